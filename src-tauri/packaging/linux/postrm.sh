#!/bin/sh
# Carebill package removal: .deb postrm and .rpm %postun.
# When the package is purged (apt purge carebill) or erased for good (rpm -e / dnf remove: $1 = 0),
# every local account's Carebill data goes with it: the encrypted copy of their bills, the
# settings, the logs and the web view's storage. `apt remove` keeps them, as Debian keeps
# configuration until a purge; upgrades never touch them.
#
# This runs as root in directories users own: a directory is removed only when every step from
# the home directory down to it is a real directory (not a symbolic link) owned by the home's
# owner, so nobody can point the removal somewhere else.
set -e
case "$1" in
  purge | 0) ;;
  *) exit 0 ;;
esac

remove_in_home() {
  home=$1
  owner=$(stat -c %u "$home")
  path=$home
  for part in $(echo "$2" | tr '/' ' '); do
    path=$path/$part
    if [ -L "$path" ] || [ ! -d "$path" ]; then
      return 0
    fi
    if [ "$(stat -c %u "$path")" != "$owner" ]; then
      return 0
    fi
  done
  rm -rf -- "$path"
}

# CAREBILL_POSTRM_HOMES: the homes to clean, for the package's own test only.
for home in ${CAREBILL_POSTRM_HOMES:-/root /home/*}; do
  if [ -L "$home" ] || [ ! -d "$home" ]; then
    continue
  fi
  for dir in .local/share/Carebill .local/share/app.carebill.desktop .config/Carebill \
    .config/app.carebill.desktop .cache/app.carebill.desktop; do
    remove_in_home "$home" "$dir"
  done
done
exit 0
