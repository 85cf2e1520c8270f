# shellcheck shell=bash
# Puts a suitable Node (>= 22) and the pnpm version pinned in package.json's "packageManager"
# on PATH. Source it: `. scripts/toolchain.sh`. Tools it has to install go to <root>/.tools.
#
# Sourced into the caller's shell, so it does not `set -euo pipefail` there: the work runs in a
# function with its own option scope (`local -`) and explicit error checks.

_onceflow_toolchain() {
  local -
  set -uo pipefail

  local node_pin=24.21.0 node_min_major=22
  local root tools bin
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)" || return 1
  tools="$root/.tools"
  bin="$tools/node_modules/.bin"

  local pnpm_pin
  pnpm_pin="$(sed -n 's/.*"packageManager"[[:space:]]*:[[:space:]]*"pnpm@\([^"+]*\).*/\1/p' "$root/package.json" | head -n 1)"
  if [ -z "$pnpm_pin" ]; then
    echo "toolchain: no \"packageManager\": \"pnpm@<version>\" in $root/package.json" >&2
    return 1
  fi

  _tc_node_version() { "$1" -v 2>/dev/null | sed 's/^v//'; }
  _tc_pkg_version() { # version field of an installed package.json, without running anything
    [ -f "$1" ] && sed -n 's/^[[:space:]]*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$1" | head -n 1
  }
  _tc_state() { # sets use_tools_node and need_install
    use_tools_node=0 need_install=0
    if [ -e "$bin/node" ]; then
      # Once .tools holds a node, keep it at the pin.
      use_tools_node=1
      [ "$(_tc_node_version "$bin/node")" = "$node_pin" ] || need_install=1
    else
      local sys_major=""
      command -v node >/dev/null && sys_major="$(_tc_node_version node | cut -d. -f1)"
      if [ -z "$sys_major" ] || [ "$sys_major" -lt "$node_min_major" ]; then
        use_tools_node=1 need_install=1
      fi
    fi
    if [ ! -x "$bin/pnpm" ] || [ "$(_tc_pkg_version "$tools/node_modules/pnpm/package.json")" != "$pnpm_pin" ]; then
      need_install=1
    fi
  }

  local use_tools_node need_install lock_fd
  _tc_state
  if [ "$need_install" = 1 ]; then
    mkdir -p "$tools" || return 1
    # Several scripts may source this at once; install under a lock and re-check after it.
    exec {lock_fd}>"$tools/.lock" || return 1
    command -v flock >/dev/null && flock "$lock_fd"
    _tc_state
    if [ "$need_install" = 1 ]; then
      if ! command -v npm >/dev/null; then
        echo "toolchain: need npm (any Node with npm) to install node@$node_pin / pnpm@$pnpm_pin into $tools" >&2
        exec {lock_fd}>&-
        return 1
      fi
      local deps="\"pnpm\": \"$pnpm_pin\""
      [ "$use_tools_node" = 1 ] && deps="\"node\": \"$node_pin\", $deps"
      printf '{ "name": "onceflow-tools", "private": true, "dependencies": { %s } }\n' "$deps" >"$tools/package.json"
      echo "toolchain: installing into $tools: $deps" >&2
      # The node package fetches its binary in an install script, so scripts must run.
      if ! npm install --prefix "$tools" --no-audit --no-fund --no-update-notifier \
        --ignore-scripts=false --loglevel=error >&2; then
        echo "toolchain: npm install into $tools failed" >&2
        exec {lock_fd}>&-
        return 1
      fi
      _tc_state
      if [ "$need_install" = 1 ]; then
        echo "toolchain: node@$node_pin / pnpm@$pnpm_pin still missing in $tools after install" >&2
        exec {lock_fd}>&-
        return 1
      fi
    fi
    exec {lock_fd}>&-
  fi

  # pnpm always comes from .tools; node too when the system one is missing or too old.
  case ":$PATH:" in
    *":$bin:"*) ;;
    *) PATH="$bin:$PATH" ;;
  esac
  export PATH
  hash -r

  echo "toolchain: node $(node -v) ($(command -v node)), pnpm $pnpm_pin ($(command -v pnpm))" >&2
}

if _onceflow_toolchain; then
  unset -f _onceflow_toolchain _tc_node_version _tc_pkg_version _tc_state
else
  unset -f _onceflow_toolchain _tc_node_version _tc_pkg_version _tc_state
  return 1 2>/dev/null || exit 1
fi
