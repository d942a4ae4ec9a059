#!/usr/bin/env bash
# mkrootfs.sh DIR — build a busybox root filesystem that needs no internet, from
# Debian's statically linked busybox (installed with apt-get when missing).
set -euo pipefail
dest=${1:?usage: hack/mkrootfs.sh DIR}

busybox=/bin/busybox
if ! [ -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
	echo "mkrootfs: installing busybox-static" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >/dev/null
fi

mkdir -p "$(dirname "$dest")"
tmp=$(mktemp -d "${dest%/}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,home,var/tmp}
chmod 1777 "$tmp/tmp" "$tmp/var/tmp"
cp -p "$busybox" "$tmp/bin/busybox" # its time is the package's: the image's date
# One symlink per applet, where `busybox --install` would put it.
for applet in $("$busybox" --list-full); do
	[ -e "$tmp/$applet" ] || ln -s /bin/busybox "$tmp/$applet"
done
cat > "$tmp/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
glassbox:x:1000:1000:glassbox demo user:/home/glassbox:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$tmp/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
tty:x:5:
staff:x:50:glassbox
glassbox:x:1000:
nogroup:x:65534:
GROUP
mkdir -p "$tmp/home/glassbox" && chown 1000:1000 "$tmp/home/glassbox"
echo "glassbox demo rootfs: busybox $("$busybox" | head -1 | awk '{print $2}')" > "$tmp/etc/motd"

rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "mkrootfs: $dest ($(ls "$dest/bin" | wc -l) applets in /bin)"
