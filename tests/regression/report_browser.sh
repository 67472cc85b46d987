#!/usr/bin/env bash
# The report in a real browser: a small run (phantom via pairpose run, plus a JSON summary and
# two PNG plots given to [report]) is reported, and headless Chromium (Debian's chromium,
# installed here with apt-get when missing and running as root; skipped otherwise) loads the
# page from a file with no network. A script added to a copy of the page counts the images that
# decoded and the errors raised (console.error, failed loads, exceptions); the test expects every
# image loaded, no error, and no console error in Chromium's log.
set -uo pipefail
bin="$PAIRPOSE_BIN"
py="$PAIRPOSE_PYTHON"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >apt.log 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >apt.log 2>&1; }
  browser=$(command -v chromium || true)
fi
[ -n "$browser" ] || { echo "skipped: no chromium (and it could not be installed)"; exit 77; }
"$py" -c "import matplotlib" 2>/dev/null || { echo "skipped: $py lacks matplotlib"; exit 77; }

cat >run.toml <<'EOF2'
[run]
folder = "r"
[phantom]
output = "phantom.mrc"
box = 16
[report]
plots = ["figures"]
summaries = ["summary.json"]
EOF2
mkdir figures
"$py" - <<'EOF2' || { echo "FAIL: could not draw the test figures"; exit 1; }
import json
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
for name in ("curve", "bars"):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [1, 0.5, 0.2]) if name == "curve" else ax.bar([0, 1], [2, 3])
    fig.savefig(f"figures/{name}.png", dpi=50)
json.dump({"fsc": {"resolution_angstrom": 11.5, "curve": list(range(40))}, "ok": True},
          open("summary.json", "w"))
EOF2
if ! "$bin" run run.toml >out 2>&1 || [ ! -f r/report.html ]; then echo "FAIL: the run"; cat out; exit 1; fi

# A copy of the page with a checking script first in <head>: it records errors from the start
# and, once the page has loaded, writes what it found into <body data-check="...">.
cat >probe.html <<'EOF2'
<script>
var pairposeErrors = [];
var consoleError = console.error;
console.error = function () { pairposeErrors.push("console.error: " + [].join.call(arguments, " ")); consoleError.apply(console, arguments); };
window.addEventListener("error", function (e) { pairposeErrors.push("error: " + (e.message || (e.target && (e.target.src || e.target.href)) || "?")); }, true);
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-check", "images " + loaded + "/" + images.length + " errors " + pairposeErrors.length + " " + pairposeErrors.join(" | "));
});
</script>
EOF2
"$py" -c "
import sys
page = open('r/report.html', encoding='utf-8').read()
probe = open('probe.html', encoding='utf-8').read()
open('checked.html', 'w', encoding='utf-8').write(page.replace('<head>', '<head>\n' + probe, 1))
"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --no-first-run --user-data-dir="$work/profile" --enable-logging=stderr --v=0 \
  --proxy-server="127.0.0.1:9" --virtual-time-budget=5000 --dump-dom "file://$work/checked.html" \
  >dom.html 2>browser.log
check=$(grep -o 'data-check="[^"]*"' dom.html)
echo "browser: $check"
fail=0
case "$check" in
  'data-check="images 2/2 errors 0 "') ;;
  *) echo "FAIL: expected both images loaded and no error"; tail -20 browser.log; fail=1 ;;
esac
if grep -i "CONSOLE" browser.log | grep -qi "error"; then
  echo "FAIL: console errors in Chromium's log:"; grep -i "CONSOLE" browser.log; fail=1
fi
[ $fail -eq 0 ] && echo "report_browser: the page loads in Chromium with every image and no error"
exit $fail
