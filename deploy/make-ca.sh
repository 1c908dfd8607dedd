#!/usr/bin/env bash
# A local certificate authority and the appliance's HTTPS certificate, for a first install.
#
#   deploy/make-ca.sh --dir /etc/appliance/tls --name cctv.clinic.lan --ip 192.168.0.10
#
# Writes into DIR (created 0700):
#   ca.crt      the CA certificate: import it ONCE on each clinic PC (README, "TLS")
#   ca.key      the CA's private key (0600): only needed to renew server.crt; keep it offline
#   server.key  the server's private key (0600), read by nginx
#   server.crt  the server certificate (SAN: every --name and --ip), signed by the CA
#
# The CA is name-constrained to the given names and addresses, so even a stolen ca.key cannot
# impersonate any other site to the clinic's PCs. Keys are ECDSA P-256. An existing key is never
# overwritten: a second run with everything present does nothing; with the CA present and the
# server files absent (or --renew-server), it issues a new server certificate from the same CA.
set -euo pipefail
umask 077

usage() {
  echo "usage: $0 --dir DIR --name HOSTNAME [--name NAME...] [--ip ADDR...] [--days N] [--renew-server]" >&2
  exit 2
}

dir="" names=() ips=() days=825 renew=0
while (($#)); do
  case "$1" in
    --dir) dir="${2:?}"; shift 2 ;;
    --name) names+=("${2:?}"); shift 2 ;;
    --ip) ips+=("${2:?}"); shift 2 ;;
    --days) days="${2:?}"; shift 2 ;;
    --renew-server) renew=1; shift ;;
    -h|--help) usage ;;
    *) echo "make-ca: unknown option $1" >&2; usage ;;
  esac
done
[ -n "$dir" ] && ((${#names[@]})) || usage
command -v openssl >/dev/null || { echo "make-ca: openssl is not installed" >&2; exit 1; }

mkdir -p "$dir"
chmod 0700 "$dir"
ca_key="$dir/ca.key" ca_crt="$dir/ca.crt" key="$dir/server.key" crt="$dir/server.crt"

# The subject alternative names and the CA's matching name constraints.
san="" permitted=""
for n in "${names[@]}"; do
  san+="${san:+,}DNS:$n"
  permitted+="${permitted:+,}permitted;DNS:$n"
done
for ip in "${ips[@]}"; do
  san+=",IP:$ip"
  if [[ "$ip" == *:* ]]; then
    permitted+=",permitted;IP:$ip/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
  else
    permitted+=",permitted;IP:$ip/255.255.255.255"
  fi
done

if [ -e "$ca_key" ] || [ -e "$ca_crt" ]; then
  if ! [ -e "$ca_key" ] || ! [ -e "$ca_crt" ]; then
    echo "make-ca: $dir holds only half of a CA (ca.key and ca.crt go together); refusing" >&2
    exit 1
  fi
  echo "make-ca: keeping the existing CA $ca_crt"
else
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ca_key" 2>/dev/null
  openssl req -x509 -new -key "$ca_key" -sha256 -days 3650 \
    -subj "/O=Clinic CCTV appliance/CN=CCTV appliance local CA (${names[0]})" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "nameConstraints=critical,$permitted" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$ca_crt"
  chmod 0644 "$ca_crt"
  echo "make-ca: created the CA $ca_crt (import it on each clinic PC)"
fi

if [ -e "$key" ] && [ -e "$crt" ] && [ "$renew" -eq 0 ]; then
  echo "make-ca: keeping the existing server certificate $crt (--renew-server to replace it)"
  exit 0
fi
if [ -e "$key" ] && [ "$renew" -eq 0 ]; then
  echo "make-ca: $key exists without $crt; refusing to overwrite a key (--renew-server)" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/server.key" 2>/dev/null
openssl req -new -key "$tmp/server.key" -subj "/O=Clinic CCTV appliance/CN=${names[0]}" \
  -out "$tmp/server.csr"
cat >"$tmp/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EXT
openssl x509 -req -in "$tmp/server.csr" -CA "$ca_crt" -CAkey "$ca_key" -CAcreateserial \
  -CAserial "$tmp/ca.srl" -days "$days" -sha256 -extfile "$tmp/ext.cnf" -out "$tmp/server.crt" \
  2>/dev/null
openssl verify -CAfile "$ca_crt" "$tmp/server.crt" >/dev/null
# Replace both at once, key first (a renewal never leaves a key without its certificate).
mv -f "$tmp/server.key" "$key"
chmod 0600 "$key"
chmod 0644 "$tmp/server.crt"
mv -f "$tmp/server.crt" "$crt"
echo "make-ca: issued $crt for $san, valid $days days"
echo "make-ca: CA fingerprint (compare when importing on a PC):"
openssl x509 -in "$ca_crt" -noout -fingerprint -sha256
