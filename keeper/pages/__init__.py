"""The pages keeper generates for each product: the edition dashboard
(``/v/``), the build list (``/builds/``), the version-switcher files
(``/v/switcher.json`` for pydata-sphinx-theme, ``/v/versions.json`` in
mike's format) and the platform's 404 page.
"""
