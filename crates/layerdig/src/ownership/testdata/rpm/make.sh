#!/usr/bin/env bash
# Remakes rpm/rpmdb.sqlite and the files/rpm-* bytes from the two spec files beside this script,
# with Debian 12's rpm 4.18 (`apt-get install rpm sqlite3 cpio`). Run from this directory; it
# writes only under a scratch directory of its own and then copies the results here.
# Build times are recorded in the headers, so a remade database differs in those bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# example-data: rpm's default file digest (SHA-256); example-tool: SHA-512 (algorithm 10).
rpmbuild --define "_topdir $work/top" -bb "$here/example-data.spec" >/dev/null
rpmbuild --define "_topdir $work/top" --define '_binary_filedigest_algorithm 10' \
    -bb "$here/example-tool.spec" >/dev/null

db=(--define '_db_backend sqlite' --dbpath "$work/db")
rpm "${db[@]}" --initdb
rpm "${db[@]}" -i --nodeps --justdb "$work"/top/RPMS/*/*.rpm

# rpm leaves the database in WAL mode with 4 KiB pages (225 KB). Rewrite it with 1 KiB pages to
# keep it small, and put it back in WAL mode as rpm leaves it; the header blobs are unchanged.
sqlite3 "$work/db/rpmdb.sqlite" 'PRAGMA journal_mode=DELETE; PRAGMA page_size=1024; VACUUM; PRAGMA journal_mode=WAL;' >/dev/null
rpm "${db[@]}" -qa --dump | sort > "$work/dump"
cp "$work/db/rpmdb.sqlite" "$here/rpmdb.sqlite"

mkdir "$work/root"
for pkg in "$work"/top/RPMS/*/*.rpm; do
    (cd "$work/root" && rpm2cpio "$pkg" | cpio -idm --quiet)
done
cp "$work/root/etc/example.conf" "$here/../files/rpm-example.conf"
cp "$work/root/usr/share/example/data.txt" "$here/../files/rpm-data.txt"
cp "$work/root/usr/bin/example-tool" "$here/../files/rpm-example-tool"
cp "$work/root/usr/lib/example-tool/plugins.conf" "$here/../files/rpm-plugins.conf"
chmod 644 "$here"/../files/rpm-*
cat "$work/dump"
