#!/usr/bin/env bash
# Fetch MathJax 3 from the npm registry into book/_assets/mathjax, which the build copies into the
# site's _static/mathjax, so that the pages typeset their math without the internet
# (_config.yml: html_static_path = _assets, mathjax_path = mathjax/tex-chtml.js).
# Idempotent: does nothing when the pinned version is already there. Needs npm.
set -euo pipefail
VERSION="3.2.2"
SHA256="1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09"
BOOK="$(cd "$(dirname "$0")" && pwd)"
DEST="$BOOK/_assets/mathjax"

if [[ -f "$DEST/VERSION" && "$(cat "$DEST/VERSION")" == "$VERSION" && -f "$DEST/tex-chtml.js" ]]; then
  echo "MathJax $VERSION already in $DEST"
  exit 0
fi
command -v npm >/dev/null || { echo "error: npm is needed to fetch MathJax" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack "mathjax@$VERSION" --silent >/dev/null)
TARBALL="$WORK/mathjax-$VERSION.tgz"
echo "$SHA256  $TARBALL" | sha256sum --check --quiet
tar -xzf "$TARBALL" -C "$WORK"

rm -rf "$DEST"
mkdir -p "$DEST"
# The combined TeX-to-CommonHTML component and what it loads on demand (fonts, TeX extensions,
# the menu and its accessibility parts).
cp "$WORK/package/es5/tex-chtml.js" "$DEST/"
for part in input output a11y ui sre adaptors; do
  cp -r "$WORK/package/es5/$part" "$DEST/"
done
cp "$WORK/package/LICENSE" "$DEST/"
echo "$VERSION" > "$DEST/VERSION"
echo "MathJax $VERSION installed in $DEST ($(du -sh "$DEST" | cut -f1))"
