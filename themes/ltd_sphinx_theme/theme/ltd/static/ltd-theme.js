/*
 * ltd-theme.js: makes a page of the ltd Sphinx theme aware of where it is
 * being read.
 *
 * A build is immutable, and the platform may serve the same build at the
 * site root (the default edition), at <root>v/<edition>/ and at
 * <root>builds/<id>/, all at once. So nothing edition-specific can be
 * written into the HTML: this script works it out from the page's own URL.
 *
 * It is a classic script in <head>, after documentation_options.js and
 * before pydata-sphinx-theme.js (deferred, at the end of <body>). That order
 * matters: pydata reads DOCUMENTATION_OPTIONS.theme_switcher_json_url and
 * theme_switcher_version_match when it runs, and they are set here first.
 */
(() => {
  "use strict";

  const DEFAULT_EDITION = "__main";
  const script = document.currentScript;
  const html = document.documentElement;
  const servedOverHttp = /^https?:$/.test(window.location.protocol);

  // The URL of the build's top directory, as served right now. Sphinx writes
  // the page's relative path to it into <html data-content_root="../">.
  function findBuildRoot() {
    const contentRoot = html.dataset.content_root;
    if (contentRoot !== undefined) {
      return new URL(contentRoot || "./", window.location.href);
    }
    // This file is <build root>/_static/ltd-theme.js.
    return new URL("../", script.src);
  }

  function decodeSegment(segment) {
    try {
      return decodeURIComponent(segment);
    } catch {
      return segment;
    }
  }

  // The platform's layout, seen from the build root:
  //   <site root>v/<edition>/  an edition other than the default
  //   <site root>builds/<id>/  one build
  //   <site root>              the default edition
  // The "v" pattern is tried first so that an edition called "builds" is
  // still an edition.
  function locate(buildRoot) {
    const path = buildRoot.pathname;
    let match = /^(.*\/)v\/([^/]+)\/$/.exec(path);
    if (match) {
      return {
        siteRoot: new URL(match[1], buildRoot),
        edition: decodeSegment(match[2]),
        build: null,
      };
    }
    match = /^(.*\/)builds\/([^/]+)\/$/.exec(path);
    if (match) {
      return {
        siteRoot: new URL(match[1], buildRoot),
        edition: null,
        build: decodeSegment(match[2]),
      };
    }
    return {
      siteRoot: new URL(path, buildRoot),
      edition: DEFAULT_EDITION,
      build: null,
    };
  }

  // This page's path inside the build ("", "index.html", "guide/setup.html").
  function pathInBuild(buildRoot) {
    const here = window.location.pathname;
    return here.startsWith(buildRoot.pathname)
      ? here.slice(buildRoot.pathname.length)
      : "";
  }

  // "./" keeps a page name with a colon from being read as a URL scheme.
  function samePageUnder(base, pagePath) {
    return new URL(`./${pagePath}`, base);
  }

  function setCanonical(url) {
    let link = document.querySelector('link[rel="canonical"]');
    if (!link) {
      link = document.createElement("link");
      link.rel = "canonical";
      document.head.appendChild(link);
    }
    link.href = url.href;
  }

  function whenReady(callback) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", callback, { once: true });
    } else {
      callback();
    }
  }

  const buildRoot = findBuildRoot();
  const where = locate(buildRoot);
  const pagePath = pathInBuild(buildRoot);
  const switcherUrl = new URL("v/switcher.json", where.siteRoot);
  const dashboardUrl = new URL("v/", where.siteRoot);
  const manageCanonical =
    servedOverHttp && !(script && script.hasAttribute("data-ltd-keep-canonical"));

  // Hooks for styling and for tests.
  html.dataset.ltdSiteRoot = where.siteRoot.pathname;
  if (where.edition !== null) html.dataset.ltdEdition = where.edition;
  if (where.build !== null) html.dataset.ltdBuild = where.build;

  // Search engines should send readers to the default edition; done now,
  // while <head> is still being parsed, so that it is there early.
  if (manageCanonical) setCanonical(samePageUnder(where.siteRoot, pagePath));

  // pydata-sphinx-theme's own switcher: where the list is, and which entry
  // is this page's. An absolute URL, so that pydata uses it as it is.
  if (servedOverHttp && typeof DOCUMENTATION_OPTIONS !== "undefined") {
    DOCUMENTATION_OPTIONS.theme_switcher_json_url = switcherUrl.href;
    DOCUMENTATION_OPTIONS.theme_switcher_version_match =
      where.edition !== null ? where.edition : `builds/${where.build}`;
  }

  // Started now so that it runs alongside the rest of the page's loading.
  const versions = servedOverHttp
    ? fetch(switcherUrl, { headers: { Accept: "application/json" } })
        .then((response) => {
          if (!response.ok) throw new Error(`switcher.json: ${response.status}`);
          return response.json();
        })
        .then((data) => {
          if (!Array.isArray(data)) throw new Error("switcher.json: not a list");
          return data.filter(
            (entry) => entry && typeof entry === "object" && typeof entry.url === "string",
          );
        })
    : Promise.reject(new Error("not served over HTTP"));
  // Handled once the DOM is ready; this keeps an early failure quiet.
  versions.catch(() => {});

  function entryName(entry) {
    if (typeof entry.name === "string" && entry.name) return entry.name;
    return String(entry.version ?? "");
  }

  // An entry's url is an edition's root, root-relative or absolute. Read
  // "/v/2.0" as "/v/2.0/" so that page paths resolve beneath it.
  function resolveRoot(url, fallback) {
    try {
      const root = new URL(url, window.location.href);
      if (!root.pathname.endsWith("/")) root.pathname += "/";
      return root;
    } catch {
      return fallback;
    }
  }

  async function pageExists(url) {
    try {
      const response = await fetch(url, { method: "HEAD" });
      return response.ok;
    } catch {
      // Offline, or another origin that does not allow it.
      return false;
    }
  }

  // pydata labels the button with the matching entry's name. A build, or an
  // edition missing from the list, matches nothing: give it a label anyway.
  function labelSwitcher() {
    let label = null;
    if (where.build !== null) label = `Build ${where.build}`;
    else if (where.edition !== DEFAULT_EDITION) label = where.edition;
    if (label === null) return;
    for (const button of document.querySelectorAll(".version-switcher__button")) {
      // Set by pydata once it has found this page's entry; leave that alone.
      if (!button.dataset.activeVersionName) button.textContent = label;
    }
  }

  function showBanner(entries) {
    if (where.edition === DEFAULT_EDITION) return;
    const preferred = entries.filter((entry) => entry.preferred === true);
    const current =
      preferred.length === 1
        ? preferred[0]
        : entries.find((entry) => entry.version === DEFAULT_EDITION);
    if (!current) return; // nothing to send readers to

    let reading;
    if (where.build !== null) {
      reading = `build ${where.build}`;
    } else {
      const own =
        entries.find((entry) => entry.version === where.edition) ||
        entries.find((entry) => {
          const url = resolveRoot(entry.url, null);
          return url !== null && url.origin === buildRoot.origin && url.pathname === buildRoot.pathname;
        });
      if (own === current) return;
      reading = `version ${own ? entryName(own) : where.edition}`;
    }

    const banner = document.getElementById("ltd-version-banner");
    const message = document.getElementById("ltd-version-banner-message");
    if (!banner || !message) return;

    const currentRoot = resolveRoot(current.url, where.siteRoot);
    const samePage = samePageUnder(currentRoot, pagePath);
    const link = document.createElement("a");
    link.id = "ltd-version-banner-link";
    link.className = "ltd-version-banner__link";
    link.textContent = entryName(current);
    link.href = currentRoot.href;
    message.replaceChildren(
      `You are reading ${reading}; the current version is `,
      link,
      ".",
    );
    banner.dataset.ltdLink = "checking";
    banner.hidden = false;

    const checked = (
      samePage.href === currentRoot.href ? Promise.resolve(true) : pageExists(samePage)
    ).then((exists) => {
      link.href = exists ? samePage.href : currentRoot.href;
      banner.dataset.ltdLink = exists ? "page" : "root";
      // A canonical link to a page that is not there would be ignored at
      // best: this page is then its own canonical.
      if (!exists && manageCanonical) {
        setCanonical(new URL(window.location.pathname, window.location.href));
      }
    });

    // A click before the check is done waits for it rather than going to
    // the root when the same page may well exist.
    link.addEventListener("click", (event) => {
      if (banner.dataset.ltdLink !== "checking") return;
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
        return;
      }
      event.preventDefault();
      checked.then(() => window.location.assign(link.href));
    });
  }

  whenReady(() => {
    for (const link of document.querySelectorAll("a.ltd-all-versions")) {
      link.href = dashboardUrl.href;
    }
    labelSwitcher();
    versions.then(showBanner, () => {
      // Not on the platform (a local preview, plain static hosting): a
      // switcher with no entries and a dashboard link to nowhere would only
      // mislead.
      html.classList.add("ltd-versions-unavailable");
    });
  });
})();
