#!/usr/bin/env bash
# Builds the container image from the Dockerfile with Podman and checks it the
# way an operator relies on it:
#   - the image's config: a non-root USER, an ENTRYPOINT/CMD, a HEALTHCHECK;
#   - the user and group 10001 exist in the image;
#   - every shared library of the binary resolves inside the image (ldd);
#   - the CA bundle is there and OpenSSL finds it at its default paths;
#   - --check-config accepts the image's default config, and the config and
#     arguments of conf/k8s-sidecar.yaml (its ConfigMap mounted where the
#     manifest mounts it);
#   - the proxy, started with the image's own Entrypoint/Cmd/User/Env, runs
#     as that user and serves /healthz, /readyz and a SetIdentityMailFromDomain
#     that the stand-in SES (tests/integ/standin_ses.py) accepts only with a
#     valid SigV4 signature;
#   - the image's HEALTHCHECK command passes while the proxy runs, and fails
#     once it has stopped;
#   - SIGTERM lets a call in flight finish, and the proxy exits 0;
#   - the runtime stage adds no package beyond the binary's libraries and
#     the CA certificates (and prints the image's size and contents).
# Every check prints PASS or FAIL; any FAIL makes the script exit 1.
#
#   scripts/image-test.sh
#
# Needs root (debootstrap, podman image mount, chroot, a network namespace)
# and what `scripts/install-deps.sh --test` installs (podman, runc,
# debootstrap, curl, iproute2, python3-botocore, python3-yaml).
#
# The bases (debian:12 and debian:12-slim) come from a registry when one is
# reachable; otherwise they are made here with `debootstrap --variant=minbase
# bookworm` from the Debian mirror this machine's apt uses, with the security
# updates applied, and the slim one with the same files left out as the
# registry's -slim images. They are kept, with the build's layers, in a
# Podman store of this script's own under the cache directory, so a second
# run only rebuilds what changed.
#
# The proxy is run with `podman run` where that works here; where it does not
# (no usable OCI runtime, as inside some sandboxes), the image's root
# filesystem is mounted (podman image mount, read-only) and the same command
# line is run in it under `chroot --userspec`. Either way it runs in a
# network namespace of its own, with the stand-in SES on its loopback, so
# the image's default listener (0.0.0.0:8080) cannot collide with anything.
#
# Environment:
#   SES_PROXY_IMAGE_CACHE   the cache (default
#                           ${XDG_CACHE_HOME:-$HOME/.cache}/ses-proxy/image)
#   SES_PROXY_IMAGE_BASE    auto (default: the bases in the cache, else the
#                           registry's, else bootstrapped), registry, bootstrap
#   SES_PROXY_IMAGE_RUN     auto (default), podman, chroot
#   SES_PROXY_IMAGE_BASE_MAX_AGE_DAYS  remake a bootstrapped base older than
#                           this (default 7)
#   DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR  the mirrors for a bootstrapped base
#                           (default: those of this machine's apt sources)
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD
t_start=$SECONDS

die() { printf 'image-test: %s\n' "$*" >&2; exit 1; }
say() { printf '\n--- %s\n' "$*"; }
npass=0
nfail=0
pass() { printf 'PASS: %s\n' "$*"; npass=$((npass + 1)); }
fail() { printf 'FAIL: %s\n' "$*"; nfail=$((nfail + 1)); }
check() {   # check WHAT COMMAND...: PASS or FAIL by the command's status
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || die "needs root (debootstrap, podman image mount, chroot)"
  exec sudo --preserve-env=XDG_CACHE_HOME,SES_PROXY_IMAGE_CACHE,SES_PROXY_IMAGE_BASE,SES_PROXY_IMAGE_RUN,SES_PROXY_IMAGE_BASE_MAX_AGE_DAYS,DEBIAN_MIRROR,DEBIAN_SECURITY_MIRROR,http_proxy,https_proxy \
    "$0" "$@"
fi
for tool in podman curl ip nsenter unshare flock chroot /usr/bin/python3; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/install-deps.sh --test"
done
/usr/bin/python3 -c 'import botocore, yaml' 2>/dev/null ||
  die "python3-botocore and python3-yaml are missing: run scripts/install-deps.sh --test"

home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
cache=${SES_PROXY_IMAGE_CACHE:-${XDG_CACHE_HOME:-$home/.cache}/ses-proxy/image}
base_mode=${SES_PROXY_IMAGE_BASE:-auto}
run_mode=${SES_PROXY_IMAGE_RUN:-auto}
max_age_days=${SES_PROXY_IMAGE_BASE_MAX_AGE_DAYS:-7}
case "$base_mode" in auto|registry|bootstrap) ;; *) die "SES_PROXY_IMAGE_BASE: auto, registry or bootstrap" ;; esac
case "$run_mode" in auto|podman|chroot) ;; *) die "SES_PROXY_IMAGE_RUN: auto, podman or chroot" ;; esac
mkdir -p "$cache"
# One run at a time per cache (the store, the bases and the tag are shared);
# the processes left running are started without the lock's descriptor.
exec 9>"$cache/lock"
if ! flock -n 9; then
  echo "image-test: waiting for another run that uses $cache"
  flock 9
fi

store=$cache/storage
# Podman's run-time state for that store (one per store: they must not mix).
runroot=/run/ses-proxy-image-test-$(printf '%s' "$store" | md5sum | cut -c1-12)
pm() { podman --root "$store" --runroot "$runroot/storage" --tmpdir "$runroot/libpod" "$@"; }
image_tag=localhost/ses-proxy:test

# --- cleanup, on any exit ------------------------------------------------------
work=$(mktemp -d /tmp/ses-proxy-image-test.XXXXXX)
ns_pid=""          # holds the network namespace the proxy runs in
standin_pid=""
proxy_pid=""       # chroot mode
cid=""             # podman mode
mounts=()          # mounted by this script, unmounted in reverse order
image_mounts=()    # images mounted with podman image mount
boot_dir=""
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  set +e
  [[ -n "$cid" ]] && pm rm -f -t 0 "$cid" >/dev/null 2>&1
  [[ -n "$proxy_pid" ]] && kill -KILL "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
  [[ -n "$standin_pid" ]] && kill "$standin_pid" 2>/dev/null && wait "$standin_pid" 2>/dev/null
  [[ -n "$ns_pid" ]] && kill "$ns_pid" 2>/dev/null && wait "$ns_pid" 2>/dev/null
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null
  done
  for i in "${image_mounts[@]}"; do pm image unmount "$i" >/dev/null 2>&1; done
  if [[ -n "$boot_dir" && -d "$boot_dir" ]]; then
    grep -o " $boot_dir/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf --one-file-system "$boot_dir"
  fi
  rm -rf --one-file-system "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

elapsed() { printf '%d s' $((SECONDS - $1)); }

# --- the bases: debian:12 and debian:12-slim ---------------------------------
have_image() { pm image exists "$1"; }
registry_bases=(docker.io/library/debian:12 docker.io/library/debian:12-slim)
local_bases=(localhost/debian:12 localhost/debian:12-slim)
stamp=$cache/bootstrap.stamp        # when and from where the bases were bootstrapped
pull_stamp=$cache/pull.stamp        # when they were pulled

apt_mirror() {   # the URI of this machine's first deb source whose Release has Label $1
  apt-get indextargets --format '$(TARGET_OF) $(LABEL) $(REPO_URI)' 2>/dev/null |
    awk -v label="$1" '$1 == "deb" && $2 == label { print $3; exit }'
}

bootstrap_bases() {
  local mirror security arch t0=$SECONDS r
  mirror=${DEBIAN_MIRROR:-$(apt_mirror Debian)}
  security=${DEBIAN_SECURITY_MIRROR:-$(apt_mirror Debian-Security)}
  [[ -n "$mirror" ]] ||
    die "no Debian mirror in this machine's apt sources (run apt-get update, or set DEBIAN_MIRROR)"
  command -v debootstrap >/dev/null || die "debootstrap is missing: run scripts/install-deps.sh --test"
  # apt's own proxy setting, for debootstrap's downloads and the build's.
  if [[ -z "${http_proxy:-}" ]]; then
    eval "$(apt-config shell http_proxy Acquire::http::Proxy)"
    [[ -n "${http_proxy:-}" ]] && export http_proxy
  fi
  arch=$(dpkg --print-architecture)
  echo "bootstrapping Debian 12 (bookworm, minbase, $arch) from $mirror${security:+ (security: $security)}"
  boot_dir=$cache/bootstrap.tmp
  if [[ -d "$boot_dir" ]]; then   # left by an interrupted run
    grep -o " $boot_dir/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf --one-file-system "$boot_dir"
  fi
  mkdir -p "$boot_dir"
  r=$boot_dir/root
  debootstrap --variant=minbase --arch="$arch" bookworm "$r" "$mirror" >"$boot_dir/debootstrap.log" 2>&1 || {
    tail -30 "$boot_dir/debootstrap.log"; die "debootstrap failed"; }
  echo "debootstrap: $(elapsed "$t0")"

  # The sources the registry's image has, on this machine's mirrors.
  rm -f "$r/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\n' "$mirror"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [[ -n "$security" ]]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\n' "$security"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } >"$r/etc/apt/sources.list.d/debian.sources"
  # What the registry's Debian images set for use in image builds: no
  # services started by package scripts, no apt caches left in layers, no
  # translations, no fsync per package.
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
  chmod 0755 "$r/usr/sbin/policy-rc.d"
  echo 'force-unsafe-io' >"$r/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
  # The security updates.
  mount -t proc proc "$r/proc"
  DEBIAN_FRONTEND=noninteractive chroot "$r" sh -c \
    'apt-get update -qq && apt-get dist-upgrade -y -qq -o Dpkg::Options::=--force-confold' \
    >"$boot_dir/upgrade.log" 2>&1 || { tail -30 "$boot_dir/upgrade.log"; die "updating the bootstrapped root failed"; }
  umount "$r/proc"
  echo "security updates: $(grep -c '^Setting up' "$boot_dir/upgrade.log") packages, $(elapsed "$t0") so far"
  # What a container runtime provides, and what only describes this machine.
  rm -rf --one-file-system "${r:?}"/dev/* "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/* \
    "$r"/var/log/bootstrap.log "$r"/var/log/apt/*.log "$r"/var/cache/debconf/*-old \
    "$r"/var/lib/dpkg/*-old "$r"/etc/resolv.conf
  echo localhost >"$r/etc/hostname"

  local change=(--change 'CMD ["bash"]'
                --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
  tar -C "$r" --numeric-owner -cf - . | pm import -q "${change[@]}" - localhost/debian:12 >/dev/null
  # -slim: the registry's slim variant leaves out documentation, man pages
  # and translations (and keeps copyright files), now and for later installs.
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
  find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  rm -rf "$r"/usr/share/groff/* "$r"/usr/share/info/* "$r"/usr/share/linda/* \
    "$r"/usr/share/lintian/overrides/* "$r"/usr/share/man/*
  tar -C "$r" --numeric-owner -cf - . | pm import -q "${change[@]}" - localhost/debian:12-slim >/dev/null
  rm -rf --one-file-system "$boot_dir"
  boot_dir=""
  printf '%s %s %s\n' "$(date +%s)" "$mirror" "$security" >"$stamp"
  echo "bootstrapped debian:12 and debian:12-slim in $(elapsed "$t0")"
}

fresh() {   # fresh STAMP IMAGE...: the images are there, made or pulled less than max_age_days ago
  local made st=$1
  shift
  [[ -f "$st" ]] || return 1
  read -r made _ <"$st"
  (($(date +%s) - made < max_age_days * 86400)) || return 1
  for i in "$@"; do have_image "$i" || return 1; done
}

untag() { local i; for i in "$@"; do have_image "$i" && pm untag "$i" "$i"; done; true; }

say "base images (debian:12, debian:12-slim)"
t0=$SECONDS
base_desc=""
if [[ "$base_mode" != bootstrap ]] && fresh "$pull_stamp" "${registry_bases[@]}"; then
  base_desc="the registry's, pulled on $(date -d "@$(cut -d' ' -f1 "$pull_stamp")" +%F) (in the cache)"
elif [[ "$base_mode" != registry ]] && fresh "$stamp" "${local_bases[@]}"; then
  base_desc="bootstrapped from the Debian mirror on $(date -d "@$(cut -d' ' -f1 "$stamp")" +%F) (in the cache)"
else
  pulled=0
  if [[ "$base_mode" != bootstrap ]]; then
    echo "pulling ${registry_bases[*]}"
    if pm pull -q "${registry_bases[0]}" >"$work/pull.log" 2>&1 &&
       pm pull -q "${registry_bases[1]}" >>"$work/pull.log" 2>&1; then
      pulled=1
      date +%s >"$pull_stamp"
      base_desc="the registry's, pulled now"
    else
      echo "no registry: $(tail -1 "$work/pull.log")"
      [[ "$base_mode" == registry ]] && die "SES_PROXY_IMAGE_BASE=registry, and the pull failed"
    fi
  fi
  if ((!pulled)); then
    untag "${local_bases[@]}"
    bootstrap_bases
    base_desc="bootstrapped from the Debian mirror now"
  fi
fi
# FROM debian:12 resolves to one of the two pairs: leave only the one used.
if [[ "$base_desc" == "the registry's"* ]]; then untag "${local_bases[@]}"; else untag "${registry_bases[@]}"; fi
echo "bases: $base_desc ($(elapsed "$t0"))"

# --- the build -------------------------------------------------------------------
say "podman build (Dockerfile)"
t0=$SECONDS
# Docker's image format: the OCI format has no HEALTHCHECK. chroot isolation
# and the host's network: RUN steps need no OCI runtime, and reach the mirror.
# The build stage is tagged too, so that pruning what earlier builds left
# keeps its layers (the toolchain's) for the next build.
build=(pm build --format docker --isolation "${BUILDAH_ISOLATION:-chroot}" --network host
       --pull=never -f Dockerfile)
for step in build-stage image; do
  if [[ $step == build-stage ]]; then opts=(--target build -t "$image_tag-build-stage")
  else opts=(--iidfile "$work/iid" -t "$image_tag"); fi
  "${build[@]}" "${opts[@]}" . >"$work/$step.log" 2>&1 || { tail -60 "$work/$step.log"; die "podman build failed"; }
done
{ cat "$work/build-stage.log"; sed -n '/^\[2\/2\] STEP 1\//,$p' "$work/image.log"; } |
  grep -E '^(\[[0-9]+/[0-9]+\] )?STEP|^--> Using cache' | cut -c1-120 | sed 's/^--> Using cache .*/    (cached)/'
image=$(cat "$work/iid")
pm image prune -f >/dev/null   # what earlier builds left untagged
echo "built $image_tag (${image#sha256:}) in $(elapsed "$t0")"

# --- the image's config ----------------------------------------------------------
say "the image's config"
eval "$(pm image inspect "$image" | /usr/bin/python3 -c '
import json, shlex, sys
d = json.load(sys.stdin)[0]
c = d.get("Config") or {}
hc = d.get("Healthcheck") or c.get("Healthcheck") or {}
def arr(name, v):
    print("%s=(%s)" % (name, " ".join(shlex.quote(x) for x in (v or []))))
arr("img_entry", c.get("Entrypoint"))
arr("img_cmd", c.get("Cmd"))
arr("img_env", c.get("Env"))
arr("img_hc", hc.get("Test"))
print("img_hc_timeout=%d" % ((hc.get("Timeout") or 30 * 10**9) // 10**9))
print("img_user=%s" % shlex.quote(c.get("User") or ""))
print("img_stopsignal=%s" % shlex.quote(c.get("StopSignal") or ""))
print("img_size=%d" % (d.get("Size") or 0))
')"
printf 'Entrypoint: %s\nCmd: %s\nUser: %s\nEnv: %s\nStopSignal: %s\nHealthcheck: %s (timeout %d s)\n' \
  "${img_entry[*]}" "${img_cmd[*]}" "$img_user" "${img_env[*]}" "$img_stopsignal" \
  "${img_hc[*]}" "$img_hc_timeout"
user_ok() { [[ -n "$img_user" && "${img_user%%:*}" != 0 && "${img_user%%:*}" != root ]]; }
check "USER is a non-root user ($img_user)" user_ok
check "ENTRYPOINT or CMD is set" test $((${#img_entry[@]} + ${#img_cmd[@]})) -gt 0
hc_ok() { [[ ${#img_hc[@]} -ge 2 && ( "${img_hc[0]}" == CMD || "${img_hc[0]}" == CMD-SHELL ) ]]; }
check "HEALTHCHECK is set (${img_hc[*]:0:1})" hc_ok
check "STOPSIGNAL is SIGTERM or unset" test "${img_stopsignal:-SIGTERM}" = SIGTERM

# --- size and contents -----------------------------------------------------------
say "size and contents"
rootfs=$(pm image mount "$image")
image_mounts+=("$image")
base_root=$(pm image mount debian:12-slim)
image_mounts+=(debian:12-slim)
/usr/bin/python3 - "$rootfs" "$base_root" "$img_size" "$base_desc" >"$work/size.txt" <<'EOF'
import os, sys
root, base, size, base_desc = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def du(path):
    total, seen = 0, set()
    for d, dirs, files in os.walk(path):
        for f in files:
            st = os.lstat(os.path.join(d, f))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total
mb = lambda n: "%.1f MB" % (n / 1e6)
print("image: %s on disk (%s as Podman counts it); its base, debian:12-slim: %s (%s)"
      % (mb(du(root)), mb(size), mb(du(base)), base_desc))
print("largest directories:")
dirs = []
for top in ("usr/lib", "usr/share", "usr/bin", "usr/sbin", "usr/local", "var", "etc"):
    p = os.path.join(root, top)
    for e in os.listdir(p):
        q = os.path.join(p, e)
        if os.path.isdir(q) and not os.path.islink(q):
            dirs.append((du(q), "/" + top + "/" + e))
for n, p in sorted(dirs, reverse=True)[:10]:
    print("  %9s  %s" % (mb(n), p))
print("largest files:")
files, seen = [], set()
for d, _, fs in os.walk(root):
    for f in fs:
        st = os.lstat(os.path.join(d, f))
        if not os.path.islink(os.path.join(d, f)) and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            files.append((st.st_size, "/" + os.path.relpath(os.path.join(d, f), root)))
for n, p in sorted(files, reverse=True)[:10]:
    print("  %9s  %s" % (mb(n), p))
EOF
cat "$work/size.txt"
echo "binary: $(stat -c %s "$rootfs/usr/local/bin/ses-proxy") bytes, /usr/local/bin/ses-proxy"

# The runtime stage's packages: only the binary's libraries (ldd, in the
# image) and the CA certificates (with openssl, whose /usr/lib/ssl links are
# libssl's default CA paths), with what those depend on.
chroot "$rootfs" /usr/bin/ldd /usr/local/bin/ses-proxy >"$work/ldd.txt" 2>&1 || true
/usr/bin/python3 - "$rootfs" "$base_root" "$work/ldd.txt" <<'EOF' >"$work/pkgs.txt"
import os, re, sys
root, base, ldd = sys.argv[1:4]
def status(r):
    pkgs, cur = {}, {}
    for line in list(open(os.path.join(r, "var/lib/dpkg/status"), encoding="utf-8")) + ["\n"]:
        if line.strip() == "":
            if cur.get("Status", "").endswith(" installed"):
                pkgs[cur["Package"]] = cur
            cur = {}
        elif line[0] in " \t":
            pass
        else:
            k, _, v = line.partition(":")
            cur[k] = v.strip()
    return pkgs
img, bas = status(root), status(base)
owner = {}
info = os.path.join(root, "var/lib/dpkg/info")
for f in os.listdir(info):
    if f.endswith(".list"):
        pkg = f[:-5].split(":")[0]
        for p in open(os.path.join(info, f), encoding="utf-8", errors="replace"):
            owner[p.rstrip("\n")] = pkg
def owning(path):
    cands = [path, os.path.join("/", os.path.relpath(os.path.realpath(root + path), root))]
    for c in list(cands):
        cands.append(c[4:] if c.startswith("/usr/") else "/usr" + c)
    for c in cands:
        if c in owner:
            return owner[c]
    return None
libs = [m.group(1) for m in re.finditer(r"=> (/\S+)", open(ldd).read())]
need = {owning(l) for l in libs} | {"ca-certificates", "openssl"}
need.discard(None)
todo = list(need)
while todo:                        # what those depend on
    p = todo.pop()
    deps = img.get(p, {}).get("Depends", "") + "," + img.get(p, {}).get("Pre-Depends", "")
    for alt in filter(None, (d.strip() for d in deps.split(","))):
        for a in alt.split("|"):
            name = a.strip().split(" ")[0].split(":")[0]
            if name in img:
                if name not in need:
                    need.add(name)
                    todo.append(name)
                break
added = sorted(set(img) - set(bas))
print("packages: %d in the base, %d added by the runtime stage:" % (len(bas), len(added)))
for p in added:
    print("  %6s kB  %-24s %s" % (img[p].get("Installed-Size", "?"), p, img[p].get("Version", "")))
print("libraries the binary loads (ldd in the image):")
for l in libs:
    print("  %-48s %s" % (l, owning(l) or "?"))
extra = [p for p in added if p not in need]
print("EXTRA " + " ".join(extra) if extra else "EXTRA")
EOF
grep -v '^EXTRA' "$work/pkgs.txt"
extra=$(sed -n 's/^EXTRA *//p' "$work/pkgs.txt")
check "the runtime stage adds only the binary's libraries and the CA certificates${extra:+ (also: $extra)}" \
  test -z "$extra"

# --- how the image is run here ----------------------------------------------------
say "running the image"
# A network namespace of the test's own: only loopback, the stand-in SES on it.
unshare --net sleep infinity 9>&- &
ns_pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do [[ $(readlink "/proc/$ns_pid/ns/net") != $(readlink /proc/self/ns/net) ]] && break; sleep 0.1; done
ns_enter=(nsenter --net="/proc/$ns_pid/ns/net" --)
inns() { "${ns_enter[@]}" "$@"; }
inns ip link set lo up

# podman run as it is, and where that fails, with what sandboxes tend to
# need: limits no higher than this shell's (podman asks root's containers for
# 1048576 open files and 4194304 processes, which a process without
# CAP_SYS_RESOURCE cannot grant; the proxy is one process), and runc where
# crun refuses the machine's cgroups.
# The options that worked last time are tried first.
run_opts=()   # the podman run options that work here
probe_podman() {
  local runtimes=("") ulimits=("") rt ul hn tries=() t
  command -v runc >/dev/null && [[ "$(pm info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null)" != runc ]] &&
    runtimes+=("--runtime runc")
  hn=$(ulimit -Hn)
  [[ "$hn" == unlimited ]] && hn=1048576
  ulimits+=("--ulimit nofile=$hn:$hn --ulimit nproc=1024:1024")
  [[ -f "$cache/podman-run-options" ]] && tries+=("$(cat "$cache/podman-run-options")")
  for rt in "${runtimes[@]}"; do
    for ul in "${ulimits[@]}"; do tries+=("$rt${rt:+${ul:+ }}$ul"); done
  done
  for t in "${tries[@]}"; do
    # shellcheck disable=SC2206
    local opts=($t)
    if pm run --rm --network none --no-healthcheck "${opts[@]}" "$image" --version >"$work/probe.log" 2>&1; then
      run_opts=("${opts[@]}")
      printf '%s\n' "$t" >"$cache/podman-run-options"
      echo "podman run ${t:-(as it is)}: works"
      return 0
    fi
    echo "podman run ${t:-(as it is)}: $(grep -m1 '^Error' "$work/probe.log" || tail -1 "$work/probe.log")"
  done
  rm -f "$cache/podman-run-options"
  return 1
}
if [[ "$run_mode" == auto ]]; then
  if probe_podman; then run_mode=podman; else run_mode=chroot; fi
elif [[ "$run_mode" == podman ]]; then
  probe_podman || die "SES_PROXY_IMAGE_RUN=podman, and podman run fails"
fi
if [[ "$run_mode" == podman ]]; then
  echo "run mode: podman run ${run_opts[*]} (network: the test's namespace, read-only root)"
else
  echo "run mode: the image's root filesystem (podman image mount, read-only) under chroot --userspec"
  # What a container runtime gives a container: /proc and a minimal /dev.
  mount -t proc proc "$rootfs/proc" && mounts+=("$rootfs/proc")
  mount -t tmpfs -o nosuid,mode=0755,size=64k tmpfs "$rootfs/dev" && mounts+=("$rootfs/dev")
  for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r name major minor <<<"$n"
    mknod -m 0666 "$rootfs/dev/$name" c "$major" "$minor"
  done
  ln -s /proc/self/fd "$rootfs/dev/fd"
  mount -t tmpfs -o nosuid,nodev,mode=1777,size=16m tmpfs "$rootfs/tmp" && mounts+=("$rootfs/tmp")
fi

# in_image USER [HOSTDIR:DIR] -- COMMAND...: run a command in the image as USER
# (the image's Env), in the test's network namespace; HOSTDIR is mounted
# read-only at DIR.
in_image() {
  local user=$1 vol="" rc
  shift
  [[ "$1" != -- ]] && { vol=$1; shift; }
  shift
  if [[ "$run_mode" == podman ]]; then
    pm run --rm --read-only --no-healthcheck --network "ns:/proc/$ns_pid/ns/net" "${run_opts[@]}" --user "$user" \
      ${vol:+--volume "$vol:ro"} --entrypoint "$1" "$image" "${@:2}"
  else
    [[ -n "$vol" ]] && bind_ro "${vol%%:*}" "$rootfs${vol#*:}"
    rc=0
    "${ns_enter[@]}" env -i "${img_env[@]}" chroot --userspec="$user" "$rootfs" "$@" || rc=$?
    [[ -n "$vol" ]] && unbind "$rootfs${vol#*:}"
    return "$rc"
  fi
}
bind_ro() {
  mount --bind "$1" "$2" && mounts+=("$2")
  mount -o remount,bind,ro "$2"
}
unbind() {
  umount "$1"
  local i
  for i in "${!mounts[@]}"; do [[ "${mounts[i]}" == "$1" ]] && unset 'mounts[i]'; done
  mounts=("${mounts[@]}")
}

# --- checks inside the image ----------------------------------------------------
say "inside the image"
id_ok() {
  local got
  got=$(in_image "$img_user" -- /usr/bin/id) || return 1
  echo "  id: $got"
  [[ "$got" == "uid=10001(ses-proxy) gid=10001(ses-proxy) groups=10001(ses-proxy)" ]]
}
check "user 10001 is ses-proxy, group 10001 is ses-proxy" id_ok

ldd_ok() {
  in_image "$img_user" -- /usr/bin/ldd "${img_entry[0]}" >"$work/ldd-user.txt" 2>&1 || return 1
  ! grep -q 'not found' "$work/ldd-user.txt" && grep -q 'libssl' "$work/ldd-user.txt"
}
check "every shared library of ${img_entry[0]} resolves in the image (ldd)" ldd_ok

bundle=/etc/ssl/certs/ca-certificates.crt
ncerts=$(cat "$rootfs$bundle" 2>/dev/null | grep -c 'BEGIN CERTIFICATE' || true)
check "the CA bundle $bundle is there ($ncerts certificates)" test "$ncerts" -gt 100
# OpenSSL's default paths (those SSL_CTX_set_default_verify_paths uses):
# `openssl verify` without -CAfile/-CApath verifies a root of the bundle only
# when it finds the bundle there.
mkdir -p "$work/ca"
awk '/BEGIN CERTIFICATE/ { p = 1 } p { print } /END CERTIFICATE/ { exit }' "$rootfs$bundle" \
  >"$work/ca/root.pem" 2>/dev/null || true
ca_ok() {
  local out
  out=$(in_image "$img_user" "$work/ca:/mnt" -- /usr/bin/openssl verify /mnt/root.pem 2>&1) || { echo "  $out"; return 1; }
  echo "  $out ($(in_image "$img_user" -- /usr/bin/openssl version -d))"
}
check "OpenSSL in the image finds the CA bundle at its default paths" ca_ok
# ... and the same verification fails without them: the check can tell.
no_ca() { ! in_image "$img_user" "$work/ca:/mnt" -- /usr/bin/openssl verify -no-CAfile -no-CApath -no-CAstore /mnt/root.pem >/dev/null 2>&1; }
check "openssl verify fails without the default paths (the check above can fail)" no_ca

check "--check-config accepts the image's default config (${img_cmd[*]})" \
  in_image "$img_user" -- "${img_entry[@]}" "${img_cmd[@]}" --check-config

# The sidecar manifest: its ConfigMap mounted where it mounts it, its args.
/usr/bin/python3 - conf/k8s-sidecar.yaml "$work/k8s" >"$work/k8s.sh" <<'EOF'
import os, shlex, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
cms = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
ctr = next(c for c in pod.get("initContainers", []) + pod["containers"] if c["name"] == "ses-proxy")
vols = {v["name"]: v for v in pod["volumes"]}
mount = next(m for m in ctr["volumeMounts"] if "configMap" in vols[m["name"]])
out = sys.argv[2]
os.makedirs(out)
for name, text in cms[vols[mount["name"]]["configMap"]["name"]].items():
    open(os.path.join(out, name), "w").write(text)
print("k8s_dir=%s" % shlex.quote(mount["mountPath"]))
print("k8s_args=(%s)" % " ".join(shlex.quote(a) for a in ctr.get("args", [])))
EOF
# shellcheck disable=SC1091
source "$work/k8s.sh"
check "--check-config accepts conf/k8s-sidecar.yaml's config ($k8s_dir, ${k8s_args[*]})" \
  in_image "$img_user" "$work/k8s:$k8s_dir" -- "${img_entry[@]}" "${k8s_args[@]}" --check-config

# --- the proxy, as the image starts it ----------------------------------------
say "the proxy, started with the image's command line, against the stand-in SES"
cat >"$work/standin.py" <<'EOF'
"""The stand-in SES for the image test: answers on 127.0.0.1 (the test's
network namespace), writes its port, and one JSON line per request."""
import json, os, signal, sys, threading, time
sys.path.insert(0, sys.argv[1])
import standin_ses as s

portfile, logfile, region = sys.argv[2], sys.argv[3], sys.argv[4]
seed = {"Identity": "example.com", "MailFromDomain": "bounces.example.com",
        "BehaviorOnMXFailure": "UseDefaultValue"}
st = s.StandinSES(s.Credentials(s.ACCESS_KEY, s.SECRET_KEY), region=region)

def responder(rec):
    if rec.action == "GetSendQuota":
        return s.Scripted.success("GetSendQuota", "<Max24HourSend>200.0</Max24HourSend>"
                                  "<MaxSendRate>14.0</MaxSendRate><SentLast24Hours>0.0</SentLast24Hours>")
    if rec.params.get("Identity") == "drain.example.com":
        return s.Scripted.success(rec.action, delay=2.0)   # in flight at SIGTERM
    return None

st.responder = responder
st.start()
with open(portfile + ".tmp", "w") as f:
    f.write(str(st.port))
os.rename(portfile + ".tmp", portfile)
signal.signal(signal.SIGTERM, lambda *a: (st.stop(), sys.exit(0)))
log = open(logfile, "a", buffering=1)
seen = {}
while True:
    for i, r in enumerate(st.snapshot()):
        state = "answered" if r.status is not None else "arrived"
        if seen.get(i) == state:
            continue
        seen[i] = state
        ev = {"event": state, "action": r.action, "identity": r.params.get("Identity"),
              "auth": bool(r.auth and r.auth.ok), "scope": r.auth and r.auth.scope,
              "code": r.auth and r.auth.code, "status": r.status, "request_id": r.request_id}
        if r.action == "SetIdentityMailFromDomain" and r.params.get("Identity") == "example.com":
            want = s.botocore_body("SetIdentityMailFromDomain", seed)
            ev["body_as_botocore"] = sorted(s.form_pairs(r.body)) == sorted(s.form_pairs(want))
        log.write(json.dumps(ev) + "\n")
    time.sleep(0.02)
EOF
region=us-east-1
"${ns_enter[@]}" /usr/bin/python3 "$work/standin.py" "$root_dir/tests/integ" "$work/standin.port" \
  "$work/standin.log" "$region" >"$work/standin.out" 2>&1 9>&- &
standin_pid=$!
for _ in $(seq 100); do [[ -s "$work/standin.port" ]] && break; sleep 0.1; done
[[ -s "$work/standin.port" ]] || { cat "$work/standin.out"; die "the stand-in SES did not start"; }
ses_url=http://127.0.0.1:$(cat "$work/standin.port")
access_key=$(/usr/bin/python3 -c "import sys; sys.path.insert(0, 'tests/integ'); import standin_ses as s; print(s.ACCESS_KEY)")
secret_key=$(/usr/bin/python3 -c "import sys; sys.path.insert(0, 'tests/integ'); import standin_ses as s; print(s.SECRET_KEY)")
# The credentials are the stand-in's throwaway ones; the endpoint its URL.
run_env=(AWS_REGION="$region" AWS_ENDPOINT_URL_SES="$ses_url" AWS_ACCESS_KEY_ID="$access_key"
         AWS_SECRET_ACCESS_KEY="$secret_key" AWS_EC2_METADATA_DISABLED=true)
echo "stand-in SES on $ses_url (in the test's network namespace)"

: >"$work/proxy.log"
if [[ "$run_mode" == podman ]]; then
  envargs=()
  for e in "${run_env[@]}"; do envargs+=(-e "$e"); done
  # The health check's timer is left out (it needs systemd); the check
  # itself is run below, by hand.
  cid=$(pm run -d --read-only --health-interval=disable --network "ns:/proc/$ns_pid/ns/net" "${run_opts[@]}" \
        --name "ses-proxy-image-test-$$" "${envargs[@]}" "$image" 2>"$work/podman.err" 9>&-) ||
    { cat "$work/podman.err"; die "podman run -d failed"; }
  pid=$(pm inspect --format '{{.State.Pid}}' "$cid")
  echo "podman run -d ... $image_tag: container ${cid:0:12}, pid $pid"
else
  "${ns_enter[@]}" env -i "${img_env[@]}" "${run_env[@]}" chroot --userspec="$img_user" "$rootfs" \
    "${img_entry[@]}" "${img_cmd[@]}" >"$work/proxy.log" 2>&1 9>&- &
  proxy_pid=$!
  pid=$proxy_pid
  echo "chroot --userspec=$img_user <rootfs> ${img_entry[*]} ${img_cmd[*]}: pid $pid"
fi
proxy_logs() {
  if [[ "$run_mode" == podman ]]; then pm logs "$cid" 2>&1; else cat "$work/proxy.log"; fi
}

# http METHOD PATH [JSON]: prints the body, then the status on a line of its own.
http() {
  local args=(-s -m 10 -X "$1" -w '\n%{http_code}' "http://127.0.0.1:8080$2")
  [[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' -d "$3")
  inns curl "${args[@]}" || true
}
status_of() { printf '%s' "${1##*$'\n'}"; }
body_of() { printf '%s' "${1%$'\n'*}"; }

up=0
for _ in $(seq 100); do
  [[ "$(status_of "$(http GET /healthz)")" == 200 ]] && { up=1; break; }
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if ((!up)); then
  proxy_logs | tail -20
  fail "the proxy started from the image answers on 0.0.0.0:8080"
  exit 1
fi

proc_ids() { awk '/^(Uid|Gid):/ { printf "%s %s %s %s %s ", $1, $2, $3, $4, $5 }' "/proc/$pid/status"; }
ids=$(proc_ids)
check "the proxy runs as 10001:10001 ($ids)" \
  test "$ids" = "Uid: 10001 10001 10001 10001 Gid: 10001 10001 10001 10001 "

r=$(http GET /healthz)
check "GET /healthz: $(status_of "$r") $(body_of "$r")" \
  test "$(status_of "$r") $(body_of "$r")" = '200 {"status":"ok"}'
r=$(http GET /readyz)
check "GET /readyz: $(status_of "$r") $(body_of "$r")" \
  test "$(status_of "$r") $(body_of "$r")" = '200 {"status":"ready"}'

seed='{"Action": "SetIdentityMailFromDomain", "Identity": "example.com",
       "MailFromDomain": "bounces.example.com", "BehaviorOnMXFailure": "UseDefaultValue"}'
r=$(http POST / "$seed")
echo "  SetIdentityMailFromDomain: $(status_of "$r") $(body_of "$r")"
seed_rid=$(body_of "$r" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["ResponseMetadata"]["RequestId"])' 2>/dev/null || true)
seed_ev=$(grep '"event": "answered"' "$work/standin.log" | grep '"identity": "example.com"' | tail -1 || true)
echo "  stand-in: ${seed_ev:-nothing}"
seed_ok() {
  [[ "$(status_of "$r")" == 200 && -n "$seed_rid" ]] &&
    [[ "$seed_ev" == *'"auth": true'* && "$seed_ev" == *"/$region/ses/aws4_request"* ]] &&
    [[ "$seed_ev" == *'"body_as_botocore": true'* && "$seed_ev" == *"\"request_id\": \"$seed_rid\""* ]]
}
check "SetIdentityMailFromDomain through the proxy: 200, signed (SigV4, ses, $region) as the stand-in verifies, body as botocore's, SES's RequestId" seed_ok

hc_cmd=("${img_hc[@]:1}")
[[ "${img_hc[0]}" == CMD-SHELL ]] && hc_cmd=(/bin/sh -c "${img_hc[1]}")
if [[ "$run_mode" == podman ]]; then
  check "HEALTHCHECK (podman healthcheck run) passes while the proxy runs" \
    pm healthcheck run "$cid"
else
  check "HEALTHCHECK (${hc_cmd[*]}) passes in the image while the proxy runs" \
    in_image "$img_user" -- timeout "$img_hc_timeout" "${hc_cmd[@]}"
fi

# SIGTERM with a call in flight: the stand-in holds its answer 2 s.
drain='{"Action": "SetIdentityMailFromDomain", "Identity": "drain.example.com",
        "MailFromDomain": "bounces.drain.example.com", "BehaviorOnMXFailure": "UseDefaultValue"}'
http POST / "$drain" >"$work/drain.out" &
drain_pid=$!
for _ in $(seq 100); do grep -q '"identity": "drain.example.com"' "$work/standin.log" && break; sleep 0.05; done
t_term=$SECONDS
if [[ "$run_mode" == podman ]]; then
  pm stop -t 30 "$cid" >/dev/null 2>>"$work/podman.err" &   # the image's STOPSIGNAL
  stop_pid=$!
  wait "$drain_pid" || true
  wait "$stop_pid" || true
  rc=$(pm inspect --format '{{.State.ExitCode}}' "$cid")
else
  kill -TERM "$proxy_pid"
  wait "$drain_pid" || true
  rc=0
  wait "$proxy_pid" || rc=$?
  proxy_pid=""
fi
r=$(cat "$work/drain.out")
echo "  the call in flight: $(status_of "$r") $(body_of "$r")"
check "SIGTERM: the call in flight finishes (200)" test "$(status_of "$r")" = 200
check "SIGTERM: the proxy exits 0 (exit $rc, after $((SECONDS - t_term)) s)" test "$rc" = 0
logs_ok() { proxy_logs >"$work/proxy-final.log"; grep -q '"msg":"draining"' "$work/proxy-final.log" && grep -q '"msg":"stopped"' "$work/proxy-final.log"; }
check "SIGTERM: the log says draining, then stopped" logs_ok
hc_fails() { ! in_image "$img_user" -- timeout "$img_hc_timeout" "${hc_cmd[@]}" 2>/dev/null; }
check "HEALTHCHECK fails once the proxy has stopped (the check above can fail)" hc_fails
if [[ "$run_mode" == podman ]]; then pm rm -f "$cid" >/dev/null 2>>"$work/podman.err"; cid=""; fi
if ((nfail)); then
  echo "--- the proxy's log"
  cat "$work/proxy-final.log" 2>/dev/null || true
fi

say "run mode: $run_mode; bases: $base_desc; $(elapsed "$t_start") in all"
echo "image-test: $npass passed, $nfail failed"
((nfail == 0))
