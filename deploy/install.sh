#!/usr/bin/env bash
# Install the clinic CCTV appliance as a system service behind nginx (Debian 12). Idempotent:
# run it again after an upgrade; it never overwrites the configuration, a key or a certificate.
#
#   sudo deploy/install.sh --hostname cctv.clinic.lan --ip 192.168.0.10 --enable
#
# What it does (design/deploy.md):
#   - the system user `appliance` (systemd-sysusers) and its dirs (systemd-tmpfiles):
#     /var/lib/appliance (data, 0700), /etc/appliance (config, 0750 root:appliance),
#     /etc/appliance/keys (0700; `appliance init` creates the keys, never this script),
#     /etc/appliance/tls (nginx's certificate and the local CA, root's only)
#   - /etc/appliance/appliance.toml from deploy/appliance.example.toml, only if absent, with
#     [server] behind_tls_proxy = true
#   - the application in /opt/appliance/venv (or --venv: an existing virtualenv holding it)
#   - systemd units (appliance.service, appliance-backup.service/.timer), a journald drop-in
#   - nginx: the site (TLS 1.2+, HSTS, proxy headers; staff and agency listeners), and a local CA
#     and server certificate from deploy/make-ca.sh when none exists
#   - with --enable (on the running system only): reload systemd and nginx, enable and start
#
# --root DIR installs into DIR as if it were / (a test, or an image being built): nothing outside
# DIR is touched, and no service is started.
set -euo pipefail

src="$(cd "$(dirname "$0")/.." && pwd)"
deploy="$src/deploy"

usage() {
  cat >&2 <<USAGE
usage: $0 [options]
  --root DIR              install into DIR instead of / (no service is started)
  --venv PATH             an existing virtualenv holding the appliance (default: create
                          /opt/appliance/venv and pip install this source tree into it)
  --hostname NAME         the box's name in the certificate (repeatable; default: hostname -f)
  --ip ADDR               the box's address in the certificate (repeatable; default: hostname -I)
  --staff-listen ADDR:PORT   HTTPS listener of the staff pages (default: 443, every interface)
  --agency-listen ADDR:PORT  a separate HTTPS listener serving only the agency API (default: none;
                          the agency API is then served on the staff listener)
  --http-listen ADDR:PORT    plain HTTP listener that only redirects to HTTPS (default: 80)
  --upstream HOST:PORT    where the appliance listens ([server] host:port; default 127.0.0.1:8080)
  --enable                reload systemd and nginx, enable and start the appliance
  --enable-backup         also enable the nightly backup timer
USAGE
  exit 2
}

root="/" venv="" names=() ips=() enable=0 enable_backup=0
staff_listen="443" agency_listen="" http_listen="80" upstream="127.0.0.1:8080"
while (($#)); do
  case "$1" in
    --root) root="${2:?}"; shift 2 ;;
    --venv) venv="${2:?}"; shift 2 ;;
    --hostname) names+=("${2:?}"); shift 2 ;;
    --ip) ips+=("${2:?}"); shift 2 ;;
    --staff-listen) staff_listen="${2:?}"; shift 2 ;;
    --agency-listen) agency_listen="${2:?}"; shift 2 ;;
    --http-listen) http_listen="${2:?}"; shift 2 ;;
    --upstream) upstream="${2:?}"; shift 2 ;;
    --enable) enable=1; shift ;;
    --enable-backup) enable_backup=1; shift ;;
    -h|--help) usage ;;
    *) echo "install: unknown option $1" >&2; usage ;;
  esac
done

root="$(realpath -m "$root")"
R="${root%/}"  # prefix for every path written; empty for the real system
live=0
[ "$root" = "/" ] && live=1
if ((enable || enable_backup)) && ((!live)); then
  echo "install: --enable needs the real system (no --root)" >&2
  exit 2
fi
say() { echo "install: $*"; }

# -- user and directories ----------------------------------------------------------------------
install -d -m 0755 "$R/etc/sysusers.d" "$R/etc/tmpfiles.d"
install -m 0644 "$deploy/sysusers/appliance.conf" "$R/etc/sysusers.d/appliance.conf"
install -m 0644 "$deploy/tmpfiles/appliance.conf" "$R/etc/tmpfiles.d/appliance.conf"
if ((live)); then
  systemd-sysusers /etc/sysusers.d/appliance.conf
  systemd-tmpfiles --create /etc/tmpfiles.d/appliance.conf
else
  systemd-sysusers --root="$root" "$R/etc/sysusers.d/appliance.conf"
  systemd-tmpfiles --root="$root" --create "$R/etc/tmpfiles.d/appliance.conf"
fi
say "user appliance, $R/var/lib/appliance, $R/etc/appliance{,/keys,/tls}"

# Keys are made by `appliance init` (which never overwrites one), never here.
if [ -n "$(ls -A "$R/etc/appliance/keys")" ]; then
  say "keeping the existing keys in $R/etc/appliance/keys (never overwritten)"
fi

# -- configuration -----------------------------------------------------------------------------
config="$R/etc/appliance/appliance.toml"
if [ -e "$config" ]; then
  say "keeping the existing $config"
  grep -Eq '^[[:space:]]*behind_tls_proxy[[:space:]]*=[[:space:]]*true' "$config" ||
    say "WARNING: $config lacks [server] behind_tls_proxy = true (cookies are not Secure)"
else
  tmp_config="$(mktemp "$R/etc/appliance/.appliance.toml.XXXXXX")"
  # The example names the proxy's switch in a comment; behind nginx it is on.
  sed -E 's/^# (behind_tls_proxy = true)  /\1    /' "$deploy/appliance.example.toml" >"$tmp_config"
  grep -Eq '^behind_tls_proxy = true' "$tmp_config" || {
    echo "install: could not enable behind_tls_proxy in the example configuration" >&2
    rm -f "$tmp_config"
    exit 1
  }
  chmod 0640 "$tmp_config"
  # By number: under --root the group exists in DIR's /etc/group, not necessarily here.
  chown "0:$(awk -F: '$1 == "appliance" { print $3 }' "$R/etc/group")" "$tmp_config"
  mv "$tmp_config" "$config"
  say "installed $config from the example: edit it (site, officer, cameras) before starting"
fi

# -- the application ---------------------------------------------------------------------------
default_venv="/opt/appliance/venv"
install -d -m 0755 "$R/opt/appliance"
install -m 0644 "$src/README.md" "$R/opt/appliance/README.md"
if [ -z "$venv" ]; then
  venv="$default_venv"
  if [ ! -x "$R$venv/bin/appliance" ]; then
    say "creating $R$venv and installing the appliance into it"
    python3 -m venv "$R$venv"
    "$R$venv/bin/pip" install --quiet "$src"
  fi
elif [ ! -x "$venv/bin/appliance" ]; then
  echo "install: $venv/bin/appliance does not exist (--venv needs a virtualenv holding it)" >&2
  exit 1
fi

# -- systemd units and journald ----------------------------------------------------------------
install -d -m 0755 "$R/etc/systemd/system" "$R/etc/systemd/journald.conf.d"
for unit in appliance.service appliance-backup.service appliance-backup.timer; do
  sed "s|$default_venv/bin/appliance|$venv/bin/appliance|g" "$deploy/systemd/$unit" \
    >"$R/etc/systemd/system/$unit.tmp"
  chmod 0644 "$R/etc/systemd/system/$unit.tmp"
  mv "$R/etc/systemd/system/$unit.tmp" "$R/etc/systemd/system/$unit"
done
install -m 0644 "$deploy/journald/appliance.conf" "$R/etc/systemd/journald.conf.d/appliance.conf"
say "systemd units in $R/etc/systemd/system (ExecStart $venv/bin/appliance run)"

# -- TLS: a local CA and the server certificate, unless present --------------------------------
if ((${#names[@]} == 0)); then
  names=("$(hostname -f 2>/dev/null || hostname)")
  short="$(hostname -s 2>/dev/null || true)"
  [ -n "$short" ] && [ "$short" != "${names[0]}" ] && names+=("$short")
fi
if ((${#ips[@]} == 0)) && ((live)); then
  read -r -a ips <<<"$(hostname -I 2>/dev/null || true)"
fi
ca_args=(--dir "$R/etc/appliance/tls")
for n in "${names[@]}"; do ca_args+=(--name "$n"); done
for ip in "${ips[@]}"; do ca_args+=(--ip "$ip"); done
"$deploy/make-ca.sh" "${ca_args[@]}"

# -- nginx -------------------------------------------------------------------------------------
port_of() { echo "${1##*:}"; }
staff_port="$(port_of "$staff_listen")"
suffix=""
[ "$staff_port" != "443" ] && suffix=":$staff_port"
install -d -m 0755 "$R/etc/nginx/sites-available" "$R/etc/nginx/sites-enabled" \
  "$R/etc/nginx/snippets"
install -m 0644 "$deploy/nginx/appliance-tls.conf" "$R/etc/nginx/snippets/appliance-tls.conf"
install -m 0644 "$deploy/nginx/appliance-proxy.conf" "$R/etc/nginx/snippets/appliance-proxy.conf"
site="$R/etc/nginx/sites-available/appliance.conf"
{
  cat "$deploy/nginx/appliance.conf.in"
  if [ -n "$agency_listen" ]; then
    echo
    cat "$deploy/nginx/appliance-agency.conf.in"
  fi
} | sed -e "s|@UPSTREAM@|$upstream|g" -e "s|@HTTP_LISTEN@|$http_listen|g" \
  -e "s|@STAFF_LISTEN@|$staff_listen|g" -e "s|@AGENCY_LISTEN@|$agency_listen|g" \
  -e "s|@STAFF_PORT_SUFFIX@|$suffix|g" -e "s|@TLS_DIR@|/etc/appliance/tls|g" >"$site.tmp"
chmod 0644 "$site.tmp"
mv "$site.tmp" "$site"
ln -sfn /etc/nginx/sites-available/appliance.conf "$R/etc/nginx/sites-enabled/appliance.conf"
# Debian's welcome page would answer plain HTTP on port 80 in place of the redirect.
if [ -L "$R/etc/nginx/sites-enabled/default" ]; then
  rm "$R/etc/nginx/sites-enabled/default"
  say "disabled nginx's default site (its file stays in sites-available)"
fi
say "nginx site $site: staff https on $staff_listen${agency_listen:+, agency API on $agency_listen}"

# -- start -------------------------------------------------------------------------------------
if ((live)); then
  if ! command -v nginx >/dev/null; then
    say "WARNING: nginx is not installed: apt-get install nginx"
  elif ((enable)); then
    nginx -t
    systemctl reload-or-restart nginx
  fi
  if ((enable)); then
    systemctl restart systemd-journald
    systemctl daemon-reload
    systemctl enable --now appliance.service
    say "appliance.service enabled and started (journalctl -u appliance)"
  fi
  if ((enable_backup)); then
    systemctl daemon-reload
    systemctl enable --now appliance-backup.timer
  fi
fi
cat <<NEXT
install: next steps
  1. edit /etc/appliance/appliance.toml (site, officer, cameras, retention groups)
  2. runuser -u appliance -- $venv/bin/appliance init -c /etc/appliance/appliance.toml
     (keys, database, first admin; asks for the vault passphrase)
  3. systemctl enable --now appliance (or run this script again with --enable)
  4. import /etc/appliance/tls/ca.crt once on each clinic PC (README, "TLS"),
     then open https://${names[0]}$suffix/
NEXT
