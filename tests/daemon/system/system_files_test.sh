#!/bin/sh
# Checks the installed system files with the tools that will read them.
#   system_files_test.sh unit-verify   UNIT [HALOD_BIN]
#   system_files_test.sh unit-security UNIT MAX_EXPOSURE
# UNIT is the configured halod.service exactly as meson installs it.
#   system_files_test.sh sysusers-tmpfiles SYSUSERS TMPFILES
#   system_files_test.sh bus-policy POLICY ACTIVATION_FILE
#   system_files_test.sh polkit-policy POLICY
# Exit 77 (meson: skipped) only where the check needs root and is not root.
set -eu
mode=$1; shift
work=$(mktemp -d)
cleanup() { [ -n "${bus_pid:-}" ] && kill "$bus_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The unit as installed, but with ExecStart pointing at a binary that exists
# here (systemd-analyze verify insists): the built halod, else a stand-in.
unit_copy() {
  bin=${1:-}
  if [ -n "$bin" ]; then
    bin=$(readlink -f "$bin")  # meson passes it relative to the build folder
  else
    bin=$work/bin/halod
    mkdir -p "$work/bin" && printf '#!/bin/sh\nexit 0\n' > "$bin" && chmod +x "$bin"
  fi
  mkdir -p "$work/unit"
  sed -e "s|^ExecStart=.*/halod\$|ExecStart=$bin|" "$UNIT" > "$work/unit/halod.service"
  grep -q "^ExecStart=$bin\$" "$work/unit/halod.service" || { echo "no ExecStart=.../halod in $UNIT"; exit 1; }
  if grep -q '@[a-z]*@' "$work/unit/halod.service"; then
    echo "unsubstituted @variables@ left in the unit:"; grep '@[a-z]*@' "$work/unit/halod.service"; exit 1
  fi
  echo "$work/unit/halod.service"
}

case $mode in
unit-verify)
  UNIT=$1
  unit=$(unit_copy "${2:-}")
  # verify prints problems on stderr and may still exit 0; any output is a failure.
  out=$(cd "$work/unit" && systemd-analyze verify "$unit" 2>&1) || { echo "$out"; exit 1; }
  if [ -n "$out" ]; then echo "$out"; exit 1; fi
  echo "systemd-analyze verify: clean"
  ;;
unit-security)
  UNIT=$1; max=$2
  unit=$(unit_copy "")
  report=$(cd "$work/unit" && systemd-analyze security --offline=true "$unit" 2>&1) || true
  echo "$report" | grep -v '^✓' || true
  level=$(echo "$report" | sed -n 's/.*Overall exposure level for halod.service: \([0-9.]*\).*/\1/p')
  [ -n "$level" ] || { echo "no exposure level in the report"; exit 1; }
  echo "exposure $level (limit $max)"
  awk -v a="$level" -v b="$max" 'BEGIN { exit !(a + 0 <= b + 0) }'
  ;;
sysusers-tmpfiles)
  sysusers=$(readlink -f "$1"); tmpfiles=$(readlink -f "$2")
  [ "$(id -u)" -eq 0 ] || { echo "needs root for chown in a --root tree"; exit 77; }
  root=$work/root
  mkdir -p "$root/etc"
  systemd-sysusers --root="$root" "$sysusers"
  grep -q '^halod:x:[0-9]*:[0-9]*:halod local LLM service:/var/lib/halod:' "$root/etc/passwd" || {
    echo "halod not created as expected:"; cat "$root/etc/passwd"; exit 1; }
  uid=$(grep '^halod:' "$root/etc/passwd" | cut -d: -f3)
  [ "$uid" -lt 1000 ] || { echo "halod got uid $uid, not a system uid"; exit 1; }
  systemd-tmpfiles --create --root="$root" "$tmpfiles"
  [ "$(stat -c '%a %u' "$root/var/lib/halod/models")" = "755 $uid" ] || {
    stat "$root/var/lib/halod/models"; exit 1; }
  [ -d "$root/etc/halod/halod.toml.d" ]
  echo "sysusers created halod (uid $uid); tmpfiles created the models and drop-in folders"
  ;;
bus-policy)
  policy=$1; activation=$2
  [ "$(id -u)" -eq 0 ] || { echo "needs root to test as root and as nobody"; exit 77; }
  mkdir -p "$work/services"
  cp "$activation" "$work/services/"
  chmod 755 "$work"
  # A bus with the system bus's default policy (deny own and method calls)
  # plus halod's policy file, as /usr/share/dbus-1/system.conf would have it.
  cat > "$work/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$work/bus</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$work/services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>$(readlink -f "$policy")</include>
</busconfig>
CONF
  dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile --print-address=3 3>"$work/address" 2>"$work/bus.log" &
  bus_pid=$!
  for _ in 1 2 3 4 5 6 7 8 9 10; do [ -S "$work/bus" ] && break; sleep 0.2; done
  [ -S "$work/bus" ] || { echo "dbus-daemon did not start:"; cat "$work/bus.log"; exit 1; }
  chmod 777 "$work/bus"
  address=unix:path=$work/bus
  request_name='call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus RequestName su org.halod.Halod1 0'
  # shellcheck disable=SC2086
  got=$(busctl --address="$address" $request_name)
  [ "$got" = "u 1" ] || { echo "root could not own org.halod.Halod1: $got"; exit 1; }
  # shellcheck disable=SC2086
  if out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups busctl --address="$address" $request_name 2>&1); then
    echo "nobody was allowed to own org.halod.Halod1: $out"; exit 1
  fi
  echo "$out" | grep -q 'Access denied' || { echo "unexpected refusal: $out"; exit 1; }
  activatable=$(busctl --address="$address" call org.freedesktop.DBus /org/freedesktop/DBus \
                org.freedesktop.DBus ListActivatableNames)
  echo "$activatable" | grep -q '"org.halod.Halod1"' || { echo "not activatable: $activatable"; exit 1; }
  echo "root may own org.halod.Halod1, nobody may not; the name is activatable"
  ;;
polkit-policy)
  policy=$1
  xmllint --noout --dtdvalid /usr/share/polkit-1/policyconfig-1.dtd "$policy"
  for action in load unload generate configure; do
    grep -q "<action id=\"org.halod.$action\">" "$policy" || { echo "missing org.halod.$action"; exit 1; }
  done
  echo "polkit policy valid with its four actions"
  ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
