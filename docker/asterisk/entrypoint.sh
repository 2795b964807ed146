#!/bin/sh
# Starts Asterisk once sipwarden has written its configuration into /etc/asterisk.
#
# asterisk.conf and modules.conf come from the image when the volume lacks them (kept if the
# administrator edits them). The four files sipwarden renders (pjsip.conf, extensions.conf,
# manager.conf, logger.conf) are never taken from anywhere else: without manager.conf, AMI
# would have no sipwarden accounts and nothing could be applied or watched.
set -eu
etc=/etc/asterisk
for f in asterisk.conf modules.conf; do
    [ -e "$etc/$f" ] || cp "/usr/local/share/sipwarden-asterisk/$f" "$etc/$f"
done
# The module directory is per architecture.
moddir=$(dirname "$(find /usr/lib -path '*/asterisk/modules/chan_pjsip.so' | head -n 1)")
sed -i "s|^astmoddir => .*|astmoddir => $moddir|" "$etc/asterisk.conf" 2>/dev/null || true

waited=0
limit="${ASTERISK_WAIT_FOR_SIPWARDEN_SECS:-300}"
while [ ! -e "$etc/manager.conf" ]; do
    if [ "$waited" -ge "$limit" ]; then
        echo "asterisk: no $etc/manager.conf after ${limit} s: sipwarden writes it on its first start" \
             "(SIPWARDEN_ASTERISK_BOOTSTRAP=true) into the volume shared at /etc/asterisk. Check that" \
             "sipwarden runs and mounts the same volume, and its log." >&2
        exit 1
    fi
    [ $((waited % 10)) -eq 0 ] && echo "asterisk: waiting for sipwarden to write $etc/manager.conf ..." >&2
    sleep 1
    waited=$((waited + 1))
done

# keys/: res_crypto's directory (astkeydir/keys); without it Asterisk logs an error at start.
mkdir -p /var/run/asterisk /var/lib/asterisk/keys /var/spool/asterisk /var/log/asterisk
chown -R asterisk:asterisk /var/run/asterisk /var/lib/asterisk /var/spool/asterisk /var/log/asterisk
# -f: foreground (the container's main process); asterisk.conf drops root to `asterisk`.
exec /usr/sbin/asterisk -f -C "$etc/asterisk.conf" "$@"
