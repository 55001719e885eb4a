#!/bin/sh
# Carebill package removal: .deb postrm and .rpm %postun.
# When the package is purged (apt purge carebill) or erased for good (rpm -e / dnf remove: $1 = 0),
# every local account's Carebill data goes with it: the encrypted copy of their bills, the
# settings, the logs and the web view's storage. `apt remove` keeps them, as Debian keeps
# configuration until a purge; upgrades never touch them.
set -e
case "$1" in
  purge | 0) ;;
  *) exit 0 ;;
esac
for home in /root /home/*; do
  [ -d "$home" ] || continue
  rm -rf "$home/.local/share/Carebill" \
    "$home/.local/share/app.carebill.desktop" \
    "$home/.config/Carebill" \
    "$home/.config/app.carebill.desktop" \
    "$home/.cache/app.carebill.desktop"
done
exit 0
