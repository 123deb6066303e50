#!/usr/bin/env python3
"""browser_test.py: the feature browser in a real browser (headless Chromium driven by Selenium).

Builds a features database the way a user does (the shipped stories260K model, a corpus of its own stories
with markup lines planted in it, `lm cache`, `sae train`, `features build`), serves it with `unfold serve
--model --sae`, and checks, in Chromium:
  - the list loads in the database's density order, sorts by a clicked column, searches (the count is a brute
    force over the database), filters by a clicked density-histogram bar;
  - a feature page shows every top context's tokens with exactly the database's texts and activations
    (data-act), shaded exactly where the activation is non-zero, the strongest token marked, and the value in
    the tooltip on hover; its links lead to the linked features;
  - the live page traces a text (values equal /api/trace's) and runs a steering request (both continuations
    equal /api/steer's);
  - `unfold features html` pages opened from disk show the same numbers (to 3 digits);
  - corpus text such as <script>alert(1)</script> and "><img src=x onerror=alert(1)> shows as text on every
    page: no alert ran, no image or foreign script exists, no Content-Security-Policy violation happened;
  - no page logged a JavaScript error; `unfold serve` stops with exit code 0 on SIGINT.
Writes screenshots of the pages to --screenshots (the README's come from `--screenshots docs/img`).

Skips (exit code 77, CTest's SKIP_RETURN_CODE) with a message when Selenium, Chromium or chromedriver is not
installed (Debian: python3-selenium chromium chromium-driver; scripts/deps.sh installs them).
"""
import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request

SKIP = 77
XSS1 = "<script>alert(1)</script>"
XSS2 = '"><img src=x onerror=alert(1)>'


def skip(msg):
    print("SKIP: " + msg + " (Debian: apt-get install chromium chromium-driver python3-selenium; scripts/deps.sh "
          "installs them)")
    sys.exit(SKIP)


try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    skip("the Python package selenium is not installed")


def find_exe(names):
    for n in names:
        p = shutil.which(n) or (os.path.exists("/usr/bin/" + n) and "/usr/bin/" + n)
        if p:
            return p
    return None


failures = []


def check(cond, what):
    if cond:
        print("  ok   " + what)
    else:
        print("  FAIL " + what)
        failures.append(what)
    return cond


def lower_ascii(s):
    return s.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))


def visible(t):
    # app.js shows newlines and tabs as arrows, other control characters as \xNN
    t = t.replace("\n", "\u21b5").replace("\t", "\u21e5")
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", lambda m: "\\x%02x" % ord(m.group(0)), t)


def close(a, b, rel):
    return abs(a - b) <= rel * max(abs(a), abs(b)) + 1e-12


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if r.returncode != 0:
        print("command failed: " + " ".join(cmd) + "\n" + r.stdout + r.stderr)
        sys.exit(1)
    return r.stdout


class Db:
    """The database as the test reads it itself (Python's sqlite3, the documented schema)."""

    def __init__(self, path):
        self.c = sqlite3.connect("file:" + path + "?mode=ro", uri=True)
        self.vocab = [t for (t,) in self.c.execute("SELECT text FROM vocab ORDER BY id")]
        self.n = self.c.execute("SELECT COUNT(*) FROM features").fetchone()[0]

    def ids(self, order):
        return [i for (i,) in self.c.execute("SELECT id FROM features ORDER BY " + order)]

    def top_contexts(self, f):
        rows = self.c.execute("SELECT tokens, activations, pos, first, value FROM contexts WHERE feature=? AND "
                              "kind='top' ORDER BY rank", (f,)).fetchall()
        return [{"ids": json.loads(t), "acts": json.loads(a), "max_index": p - fi, "value": v} for t, a, p, fi, v in rows]

    def text(self, ids):
        return "".join(self.vocab[i] for i in ids)

    def search(self, q, contexts=5):
        q = lower_ascii(q)
        hits = []
        for f, label in self.c.execute("SELECT id, label FROM features ORDER BY id").fetchall():
            texts = [lower_ascii(label)] + [lower_ascii(self.text(json.loads(t))) for (t,) in self.c.execute(
                "SELECT tokens FROM contexts WHERE feature=? AND kind='top' AND rank<? ORDER BY rank", (f, contexts))]
            if any(q in t for t in texts):
                hits.append(f)
        return hits


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unfold", required=True, help="the unfold binary")
    ap.add_argument("--work", required=True, help="scratch folder (emptied)")
    ap.add_argument("--screenshots", default="", help="folder for the pages' screenshots (default: WORK/shots)")
    a = ap.parse_args()

    chromium = find_exe(["chromium", "chromium-browser", "google-chrome"])
    driver_exe = find_exe(["chromedriver"])
    if not chromium:
        skip("no Chromium browser found")
    if not driver_exe:
        skip("no chromedriver found")

    # every command runs in the repository root with paths relative to it (they show on the pages as given)
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    U = os.path.abspath(a.unfold)
    work_abs = os.path.abspath(a.work)
    shots = os.path.abspath(a.screenshots or os.path.join(work_abs, "shots"))
    os.chdir(root)
    model = ["--model", "models/stories260K/stories260K.bin", "--tokenizer", "models/stories260K/tok512.bin"]
    work = os.path.relpath(work_abs, root)
    if work.startswith(".."):
        work = work_abs
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.makedirs(shots, exist_ok=True)
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")

    # ---- a database built as a user builds one --------------------------------------------------------------
    t0 = time.time()
    lines = []
    for seed in range(1, 61):
        lines.append(run([U, "lm", "generate"] + model + ["--steps", "250", "--temperature", "1", "--seed", str(seed),
                                                          "--quiet"], env=env).strip())
    corpus = os.path.join(work, "corpus.txt")
    with open(corpus, "w") as f:
        for i, l in enumerate(lines):
            f.write(l + "\n")
            f.write("Tom wrote " + XSS1 + " on the wall. Then " + XSS2 + " was there.\n")
    run([U, "lm", "cache"] + model + ["--hook", "blocks.2.hook_resid_post", "--corpus", corpus, "--tokens", "40000",
                                      "--context", "64", "--out", os.path.join(work, "acts"), "--quiet"], env=env)
    sae = os.path.join(work, "sae")
    run([U, "sae", "train", "--input", os.path.join(work, "acts"), "--arch", "topk", "--k", "8", "--latents", "256",
         "--steps", "600", "--batch", "512", "--seed", "1", "--out", sae, "--quiet"], env=env)
    dbp = os.path.join(work, "features.db")
    run([U, "features", "build"] + model + ["--sae", sae, "--corpus", corpus, "--tokens", "40000", "--before", "24",
                                            "--after", "8", "--out", dbp, "--quiet"], env=env)
    print("database built in %.1f s" % (time.time() - t0))
    db = Db(dbp)

    # ---- the server ---------------------------------------------------------------------------------------
    srv = subprocess.Popen([U, "serve", dbp] + model + ["--sae", sae, "--port", "0", "--quiet"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env)
    line = srv.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not m:
        print("unfold serve did not print its URL: " + line + srv.stderr.read())
        srv.kill()
        return 1
    base = m.group(0)
    print("serving at " + base)

    def api(path, **params):
        with urllib.request.urlopen(base + "api/" + path + ("?" + urllib.parse.urlencode(params) if params else "")) as r:
            return json.loads(r.read().decode())

    # ---- the browser --------------------------------------------------------------------------------------
    o = Options()
    o.binary_location = chromium
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--force-device-scale-factor=1", "--lang=en-US", "--hide-scrollbars"]:
        o.add_argument(arg)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        d = webdriver.Chrome(service=Service(driver_exe), options=o)
    except WebDriverException as e:
        srv.send_signal(signal.SIGINT)
        srv.wait()
        skip("Chromium did not start: " + str(e).splitlines()[0])
    # before any page script: record alerts and CSP violations instead of showing them
    d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "window.__alerts = []; window.alert = function (m) { window.__alerts.push(String(m)); };"
        "window.__csp = []; document.addEventListener('securitypolicyviolation', function (e) {"
        " window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });")})
    logs = []

    def wait_ready(timeout=30):
        WebDriverWait(d, timeout).until(lambda x: x.execute_script("return document.body && document.body.dataset.ready") == "1")

    def load(url):
        d.get(url)
        wait_ready()

    def act(fn):
        """runs an action that redraws the page and waits for it to finish"""
        d.execute_script("document.body.dataset.ready = ''")
        fn()
        wait_ready()

    def no_script_ran(where):
        alerts = d.execute_script("return window.__alerts")
        csp = d.execute_script("return window.__csp")
        imgs = d.execute_script("return document.querySelectorAll('img').length")
        scripts = d.execute_script("return Array.from(document.scripts).filter(function (s) {"
                                   " return s.type !== 'application/json' && !/static\\/(app|vocab)\\.js$/.test(s.src); }).length")
        check(alerts == [] and csp == [] and imgs == 0 and scripts == 0,
              "%s: no alert (%s), no CSP violation (%s), no <img> (%d), no foreign script (%d)" %
              (where, alerts, csp, imgs, scripts))
        logs.extend((where, e) for e in d.get_log("browser") if e.get("level") == "SEVERE")

    def shot(name, height=1000):
        """the page's top `height` CSS pixels (less if the page is shorter), 1400 wide"""
        d.execute_script("window.scrollTo(0, 0)")
        hpx = min(height, d.execute_script("return document.documentElement.scrollHeight"))
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": hpx, "deviceScaleFactor": 1,
                                                                  "mobile": False})
        time.sleep(0.3)
        d.save_screenshot(os.path.join(shots, name + ".png"))
        d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def rows():
        return [int(r.get_attribute("data-feature")) for r in d.find_elements(By.CSS_SELECTOR, "#feature-table tbody tr")]

    def total():
        m = re.search(r"of ([\d,]+) features", d.find_element(By.ID, "summary").text)
        return int(m.group(1).replace(",", "")) if m else -1

    try:
        # ---- the list ---------------------------------------------------------------------------------
        print("list page")
        load(base)
        check(rows() == db.ids("density DESC, id")[:100], "the list shows the 100 densest features in order")
        check(total() == db.n, "the summary counts %d features" % db.n)
        shot("serve_list", 1150)
        act(lambda: d.find_element(By.CSS_SELECTOR, "th[data-sort=max]").click())
        check(rows() == db.ids("max_act DESC, id")[:100], "clicking 'Max act' sorts by max activation, descending")
        act(lambda: d.find_element(By.CSS_SELECTOR, "th[data-sort=max]").click())
        check(rows() == db.ids("max_act ASC, id")[:100], "clicking it again sorts ascending")
        act(lambda: d.find_element(By.ID, "next").click())
        check(rows() == db.ids("max_act ASC, id")[100:200], "Next shows the second page")
        check("offset=100" in d.current_url, "the page's state is in its URL")
        act(lambda: d.find_element(By.ID, "search").send_keys("script"))
        want = db.search("script")
        check(total() == len(want) and len(want) > 0, "searching 'script' finds the %d features whose label or "
              "strongest contexts hold it (page says %d)" % (len(want), total()))
        check(set(rows()) <= set(want), "every listed feature is one of them")
        # markup in the examples shows as text
        page_text = d.execute_script("return document.getElementById('feature-table').textContent")
        check("<script" in page_text and "<img" in page_text, "the examples show '<script' and '<img' as text")
        no_script_ran("list")
        # the density histogram: clicking a bar keeps that density range
        load(base)
        bars = d.find_elements(By.CSS_SELECTOR, "#density-hist rect.hit")
        info = api("info")
        edges, counts = info["density_histogram"]["bin_edges_log10"], info["density_histogram"]["counts"]
        shown = [int(e.get_attribute("data-bin")) for e in bars]
        k = max(range(len(shown)), key=lambda j: counts[shown[j]])
        b = shown[k]
        act(lambda: bars[k].click())
        lo, hi = 10 ** edges[b], 10 ** edges[b + 1]
        n_in = db.c.execute("SELECT COUNT(*) FROM features WHERE density >= ? AND density < ?", (lo, hi)).fetchone()[0]
        check(total() == n_in == counts[b], "clicking the tallest density bar keeps its %d features (page %d, db %d)" %
              (counts[b], total(), n_in))

        # ---- a feature page -----------------------------------------------------------------------------
        # the feature with the most top contexts that hold the whole <script> line
        F, most = 0, 0
        for f, in db.c.execute("SELECT id FROM features ORDER BY id").fetchall():
            n = sum(XSS1 in db.text(c["ids"]) for c in db.top_contexts(f))
            if n > most:
                F, most = f, n
        check(most > 0, "feature %d has %d top contexts that hold %s" % (F, most, XSS1))
        print("feature page %d" % F)
        load(base + "feature/%d" % F)
        ctxs = db.top_contexts(F)
        els = d.find_elements(By.CSS_SELECTOR, "#top-contexts .ctx")
        check(len(els) == len(ctxs), "%d top contexts shown" % len(ctxs))
        vals_ok = texts_ok = shade_ok = max_ok = True
        for el, c in zip(els, ctxs):
            toks = el.find_elements(By.CSS_SELECTOR, ".tok")
            got = d.execute_script("return Array.from(arguments[0].querySelectorAll('.tok')).map(function (t) {"
                                   " return [t.dataset.act, t.dataset.token, t.textContent, t.style.backgroundColor,"
                                   " t.classList.contains('max')]; })", el)
            if len(got) != len(c["ids"]):
                vals_ok = False
                continue
            for i, (a_, tok, shown_text, bg, is_max) in enumerate(got):
                vals_ok &= close(float(a_), c["acts"][i], 1e-6)
                texts_ok &= tok == db.vocab[c["ids"][i]] and shown_text == (visible(tok) or "\u2205")
                shade_ok &= (bg != "") == (c["acts"][i] != 0)
                max_ok &= is_max == (i == c["max_index"])
            del toks
        check(vals_ok, "every token's activation (data-act) is the database's (1e-6)")
        check(texts_ok, "every token's text is the database's vocabulary text")
        check(shade_ok, "tokens are shaded exactly where the activation is non-zero")
        check(max_ok, "the strongest token of each context is marked")
        shown = [d.execute_script("return arguments[0].querySelector('.strip').textContent", el) for el in els]
        check(sum(XSS1 in t for t in shown) == most, "%d contexts show %s as text" % (most, XSS1))
        # hover: the tooltip holds the token's value
        mi = ctxs[0]["max_index"]
        tok_el = els[0].find_elements(By.CSS_SELECTOR, ".tok")[mi]
        ActionChains(d).move_to_element(tok_el).perform()
        time.sleep(0.2)
        tip = d.find_element(By.ID, "tip")
        want_v = float(tok_el.get_attribute("data-act"))
        tip_text = tip.text
        m = re.search(r"activation ([-\d.e+]+)", tip_text)
        check(tip.is_displayed() and m and close(float(m.group(1)), want_v, 1e-3),
              "hovering the strongest token shows its value (%s)" % tip_text.replace("\n", " | "))
        fj = api("feature/%d" % F)
        check(d.find_element(By.ID, "stat-max").text.startswith(("%.4g" % fj["max_activation"])[:4]),
              "the max activation stat is the database's")
        n_logit_rows = len(d.find_elements(By.CSS_SELECTOR, ".c-logits tr"))
        check(n_logit_rows == len(fj["logit_effects"]["promoted"]) + len(fj["logit_effects"]["suppressed"]),
              "one logit-effect bar per promoted / suppressed token")
        shot("serve_feature", 1700)
        no_script_ran("feature %d" % F)
        # a neighbour link leads to that feature
        link = d.find_element(By.CSS_SELECTOR, "#neighbours a.flink")
        G = int(link.text.lstrip("#"))
        check(G == fj["neighbours"][0]["feature"], "the first decoder neighbour is the database's")
        act(link.click)
        check(d.current_url.endswith("/feature/%d" % G) and ("#%d" % G) in d.find_element(By.ID, "feature-title").text,
              "its link opens feature %d" % G)
        no_script_ran("feature %d" % G)

        # ---- live: trace and steer -----------------------------------------------------------------------
        print("live page")
        load(base + "live?feature=%d" % F)
        text = "Tom wrote " + XSS1 + " and " + XSS2 + ". Once upon a time, Lily was happy."
        box = d.find_element(By.ID, "trace-text")
        box.clear()
        box.send_keys(text)
        fbox = d.find_element(By.ID, "trace-feature")
        fbox.clear()
        fbox.send_keys(str(F))
        act(lambda: d.find_element(By.ID, "trace-go").click())
        tr = api("trace", text=text, top=8)
        got = d.execute_script("return Array.from(document.querySelectorAll('#trace-strip .tok')).map(function (t) {"
                               " return [parseFloat(t.dataset.act), t.dataset.token]; })")
        want = [(next((x["value"] for x in t["features"] if x["feature"] == F), 0.0), t["token"]) for t in tr["tokens"]]
        check(len(got) == len(want) and all(close(g[0], w[0], 1e-6) and g[1] == w[1] for g, w in zip(got, want)),
              "the traced tokens and feature %d's values are /api/trace's (%d tokens)" % (F, len(want)))
        strip = d.execute_script("return document.getElementById('trace-strip').textContent")
        check(XSS1 in strip and XSS2 in strip, "the traced text shows both markup strings as text")
        # steering
        for el_id, v in [("steer-prompt", "Once upon a time"), ("steer-feature", str(F)), ("steer-value", "30"),
                         ("steer-steps", "24")]:
            e = d.find_element(By.ID, el_id)
            e.clear()
            e.send_keys(v)
        act(lambda: d.find_element(By.ID, "steer-go").click())
        st = api("steer", prompt="Once upon a time", steer="%d=30" % F, steps=24)
        une = d.find_element(By.ID, "steer-unedited").get_attribute("textContent")
        ste = d.find_element(By.ID, "steer-steered").get_attribute("textContent")
        check(une == "Once upon a time" + st["unedited"]["text"] and ste == "Once upon a time" + st["steered"]["text"],
              "the steering panel shows /api/steer's two continuations")
        check(st["unedited"]["text"] != st["steered"]["text"], "clamping feature %d to 30 changes the text" % F)
        # a gentler clamp for the picture (checked against the API too)
        e = d.find_element(By.ID, "steer-value")
        e.clear()
        e.send_keys("8")
        act(lambda: d.find_element(By.ID, "steer-go").click())
        st8 = api("steer", prompt="Once upon a time", steer="%d=8" % F, steps=24)
        check(d.find_element(By.ID, "steer-steered").get_attribute("textContent") == "Once upon a time" + st8["steered"]["text"],
              "and again at value 8")
        shot("serve_live", 1000)
        no_script_ran("live")

        # ---- the static export, opened from disk -----------------------------------------------------------
        print("static export")
        out = os.path.join(work_abs, "html")
        run([U, "features", "html", dbp, "--out", out, "--top", "20", "--quiet"], env=env)
        load("file://" + out + "/index.html")
        check(rows() == db.ids("density DESC, id")[:100], "the exported list shows the densest features in order")
        act(lambda: d.find_element(By.CSS_SELECTOR, "th[data-sort=id]").click())
        check(rows() == list(range(100)), "and sorts by id")
        no_script_ran("static list")
        load("file://" + out + "/feature/%d.html" % F)
        got = d.execute_script("return Array.from(document.querySelectorAll('#top-contexts .ctx')).map(function (c) {"
                               " return Array.from(c.querySelectorAll('.tok')).map(function (t) {"
                               " return [parseFloat(t.dataset.act), t.dataset.token]; }); })")
        ok = len(got) == len(ctxs)
        for g, c in zip(got, ctxs):
            ok &= len(g) == len(c["ids"]) and all(close(x[0], c["acts"][i], 5e-3) and x[1] == db.vocab[c["ids"][i]]
                                                  for i, x in enumerate(g))
        check(ok, "the exported feature page shows the database's tokens and activations (3 digits)")
        shown = d.execute_script("return Array.from(document.querySelectorAll('#top-contexts .strip')).map(function (s) {"
                                 " return s.textContent; })")
        check(sum(XSS1 in t for t in shown) == most, "and %d contexts show %s as text" % (most, XSS1))
        no_script_ran("static feature %d" % F)
        shot("static_feature", 900)
    finally:
        d.quit()
        srv.send_signal(signal.SIGINT)
        try:
            rc = srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
            rc = -1
        check(rc == 0 and srv.stdout.read().strip() == "stopped", "unfold serve stops with exit code 0 on SIGINT")

    check(not logs, "no page logged an error%s" % ("" if not logs else ": " + repr(logs[:3])))
    print("screenshots in " + shots)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
