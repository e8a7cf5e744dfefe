#!/usr/bin/env sh
# shellcheck disable=SC2034
dns_dcvhook_info='dcv-hook: publish through dcv-hook (RFC2136, Cloudflare, exec) and wait on every authoritative nameserver
Docs: hooks/README.md of dcv-hook
Options:
 DCVHOOK_CONFIG dcv-hook configuration file (TOML), passed as --config. Optional: without it dcv-hook reads DCV_HOOK_CONFIG.
 DCVHOOK_BIN Path to the dcv-hook binary. Optional. Default: "dcv-hook" from PATH.
'

# dns_dcvhook.sh: dcv-hook as an acme.sh DNS API (dns-01).
#
# Called by acme.sh (`acme.sh --issue --dns dns_dcvhook -d example.com`), which sources this file in a
# subshell and calls, once per name:
#   dns_dcvhook_add FULLDOMAIN TXTVALUE -> dcv-hook auth    --acme-fqdn=FULLDOMAIN --acme-value=TXTVALUE
#   dns_dcvhook_rm  FULLDOMAIN TXTVALUE -> dcv-hook cleanup --acme-fqdn=FULLDOMAIN --acme-value=TXTVALUE
# FULLDOMAIN is the exact TXT owner name (_acme-challenge.example.com, or the --challenge-alias
# target). auth returns once every authoritative nameserver serves the record.
# Settings, the acme.sh way: the environment variables above, saved to the account config with
# _saveaccountconf_mutable on add and read back with _readaccountconf_mutable when they are not set
# (so renewals need no environment). Messages go through acme.sh's _info/_err/_debug, or to stderr
# when this file is sourced without them.
# Returns 0 on success and 1 on failure (the dcv-hook exit code is logged with _err; a failed add
# also runs dcv-hook cleanup for its record, which acme.sh may not remove). Being sourced, it changes
# no shell option and sets no variable but acme.sh's usual fulldomain/txtvalue, the DCVHOOK_*
# settings and its own _dcvhook_* ones.
#
# Install and use:
#   cp hooks/dns_dcvhook.sh ~/.acme.sh/dnsapi/
#   DCVHOOK_CONFIG=/etc/dcv-hook/acme.toml acme.sh --issue --dns dns_dcvhook -d example.com --dnssleep 1
# with /etc/dcv-hook/acme.toml:
#   provider = "rfc2136"
#   rfc2136-server = "192.0.2.1"
#   tsig-key = "acme-key"
#   tsig-secret-file = "/etc/dcv-hook/tsig.secret"

########  Public functions #####################

# Usage: dns_dcvhook_add _acme-challenge.www.example.com "XKrxpRBosdIKFzxW_CT3KLZNf6q0HG9i01zxXp5CPBs"
dns_dcvhook_add() {
  fulldomain=$1
  txtvalue=$2
  _dcvhook_settings
  _dcvhook_save DCVHOOK_CONFIG "$DCVHOOK_CONFIG"
  _dcvhook_save DCVHOOK_BIN "$DCVHOOK_BIN"
  _dcvhook_log info "dcv-hook: adding TXT $fulldomain"
  _dcvhook_run auth "$fulldomain" "$txtvalue"
}

# Usage: dns_dcvhook_rm _acme-challenge.www.example.com "XKrxpRBosdIKFzxW_CT3KLZNf6q0HG9i01zxXp5CPBs"
dns_dcvhook_rm() {
  fulldomain=$1
  txtvalue=$2
  _dcvhook_settings
  _dcvhook_log info "dcv-hook: removing TXT $fulldomain"
  _dcvhook_run cleanup "$fulldomain" "$txtvalue"
}

####################  Private functions below ##################################

# DCVHOOK_CONFIG and DCVHOOK_BIN from the environment, else from the account config.
_dcvhook_settings() {
  if [ -z "${DCVHOOK_CONFIG:-}" ] && _dcvhook_defined _readaccountconf_mutable; then
    DCVHOOK_CONFIG=$(_readaccountconf_mutable DCVHOOK_CONFIG)
  fi
  if [ -z "${DCVHOOK_BIN:-}" ] && _dcvhook_defined _readaccountconf_mutable; then
    DCVHOOK_BIN=$(_readaccountconf_mutable DCVHOOK_BIN)
  fi
  DCVHOOK_CONFIG=${DCVHOOK_CONFIG:-}
  DCVHOOK_BIN=${DCVHOOK_BIN:-}
  _dcvhook_log debug "DCVHOOK_CONFIG=$DCVHOOK_CONFIG DCVHOOK_BIN=$DCVHOOK_BIN"
}

# Saves NAME VALUE to the account config, when acme.sh provides that and there is a value.
_dcvhook_save() {
  if [ -n "$2" ] && _dcvhook_defined _saveaccountconf_mutable; then
    _saveaccountconf_mutable "$1" "$2"
  fi
}

# Runs dcv-hook VERB --acme-fqdn=FQDN --acme-value=VALUE; returns 0, or 1 after logging why (and
# after undoing a failed auth).
_dcvhook_run() {
  _dcvhook_bin=${DCVHOOK_BIN:-dcv-hook}
  if ! command -v "$_dcvhook_bin" >/dev/null 2>&1; then
    _dcvhook_log err "dcv-hook not found ($_dcvhook_bin): put it on PATH or set DCVHOOK_BIN"
    return 1
  fi
  if [ -n "$DCVHOOK_CONFIG" ]; then
    set -- "$1" "--config=$DCVHOOK_CONFIG" "--acme-fqdn=$2" "--acme-value=$3"
  else
    set -- "$1" "--acme-fqdn=$2" "--acme-value=$3"
  fi
  if "$_dcvhook_bin" "$@"; then
    return 0
  else
    _dcvhook_rc=$?
  fi
  case $_dcvhook_rc in
  64) _dcvhook_why="usage error: bad or missing flags" ;;
  65) _dcvhook_why="bad input data" ;;
  69) _dcvhook_why="a DNS server is unavailable" ;;
  73) _dcvhook_why="cannot write the state directory" ;;
  75) _dcvhook_why="propagation timed out: not every nameserver serves the record yet" ;;
  77) _dcvhook_why="credentials rejected (TSIG key or API token)" ;;
  78) _dcvhook_why="configuration missing or invalid (see DCVHOOK_CONFIG)" ;;
  *) _dcvhook_why="see the error above" ;;
  esac
  _dcvhook_log err "dcv-hook $1 failed for $fulldomain with exit $_dcvhook_rc: $_dcvhook_why"
  if [ "$1" = auth ]; then
    # Remove whatever a failed add left published: acme.sh may not call rm for it.
    shift
    "$_dcvhook_bin" cleanup "$@" >&2 || true
  fi
  return 1
}

# Whether a shell function or command of that name exists.
_dcvhook_defined() {
  command -v "$1" >/dev/null 2>&1
}

# _dcvhook_log info|err|debug MESSAGE: through acme.sh's _info/_err/_debug when defined, else stderr.
_dcvhook_log() {
  if _dcvhook_defined "_$1"; then
    "_$1" "$2"
  elif [ "$1" != debug ] || [ -n "${DEBUG:-}" ]; then
    printf '%s\n' "$2" >&2
  fi
  return 0
}
