#!/usr/bin/env bash
# Build a realtime container image from nothing and smoke-test it, without a Docker daemon.
#
#   tools/container_smoke.sh                  # the cpu image: what CI runs on every run
#   tools/container_smoke.sh --target cuda    # the cuda image (large; built by hand)
#
# Steps: install buildah and debootstrap where missing; build a Debian bookworm base image
# with debootstrap (cached: skipped while the local image exists); build the image with
# buildah (layers and pip downloads cached between runs); run inside it `realtime --version`,
# `realtime doctor --json` and a 3-second demo written to a file whose frames are counted
# with PyAV inside the image. Prints the image size, what takes the space and the build time;
# exits non-zero on any failure.
#
# Environment: REALTIME_SMOKE_CACHE (default /var/cache/realtime-container) holds the base
# rootfs tarball; PIP_CERT_FILE (default /etc/ssl/certs/ca-certificates.crt) is the CA bundle
# mounted into the build for pip behind a TLS-intercepting proxy; NICE (default 10) is the
# niceness of the heavy steps, so a build does not starve other work on a shared machine.
set -euo pipefail

TARGET=cpu
DEMO=1
BUILD_ARGS=()
usage() {
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
  echo "options: --target cpu|cuda  --no-demo  --build-arg NAME=VALUE (repeatable)  --rebuild-base"
}
REBUILD_BASE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --target) TARGET="$2"; shift 2 ;;
    --target=*) TARGET="${1#*=}"; shift ;;
    --no-demo) DEMO=0; shift ;;
    --build-arg) BUILD_ARGS+=(--build-arg "$2"); shift 2 ;;
    --rebuild-base) REBUILD_BASE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "container_smoke: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$TARGET" in cpu|cuda) ;; *) echo "container_smoke: --target must be cpu or cuda" >&2; exit 2 ;; esac

cd "$(dirname "$0")/.."
REPO=$(pwd)
CACHE=${REALTIME_SMOKE_CACHE:-/var/cache/realtime-container}
CERT=${PIP_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
NICE=${NICE:-10}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_IMAGE=localhost/realtime-base:bookworm
IMAGE=localhost/realtime:$TARGET
ISO=(--isolation chroot)
CTR=""
WORK=$(mktemp -d)

step() { printf '\n== %s\n' "$*"; }
fail() { echo "container_smoke: FAIL: $*" >&2; exit 1; }
cleanup() {
  if [ -n "$CTR" ]; then buildah rm "$CTR" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- tools ----------------------------------------------------------------------------------
missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  [ "$(id -u)" = 0 ] || fail "need root to apt-get install ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    containernetworking-plugins fuse-overlayfs
fi
buildah --version

# --- base image: Debian bookworm with python3 + venv, built from Debian packages ---------------
mkdir -p "$CACHE"
if [ "$REBUILD_BASE" = 1 ]; then buildah rmi -f "$BASE_IMAGE" >/dev/null 2>&1 || true; fi
if buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  step "base image $BASE_IMAGE exists (cached)"
else
  step "building base image $BASE_IMAGE with debootstrap"
  t0=$(date +%s)
  rootfs="$WORK/rootfs"
  nice -n "$NICE" debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap"; }
  # Nothing of the package manager's downloads stays in the base.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*
  tar -C "$rootfs" -cf "$WORK/rootfs.tar" .
  bctr=$(buildah from scratch)
  buildah add "$bctr" "$WORK/rootfs.tar" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd python3 "$bctr"
  buildah commit --rm "$bctr" "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs" "$WORK/rootfs.tar"
  echo "base built in $(( $(date +%s) - t0 )) s"
fi

# --- the image -------------------------------------------------------------------------------
VERSION=$(python3 -c 'import re,sys; print(re.search(r"^version\s*=\s*\"([^\"]+)\"", open("pyproject.toml").read(), re.M).group(1))')
DEFAULT_VERSION=$(sed -n "s/^ARG VERSION=//p" Dockerfile | sort -u)
[ "$VERSION" = "$DEFAULT_VERSION" ] \
  || fail "Dockerfile's ARG VERSION=$DEFAULT_VERSION differs from pyproject.toml's version $VERSION"
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE=$(git remote get-url origin 2>/dev/null || echo "")
[ -f "$CERT" ] || fail "CA bundle $CERT not found (set PIP_CERT_FILE)"
step "building $IMAGE (--target $TARGET)"
t0=$(date +%s)
nice -n "$NICE" buildah bud "${ISO[@]}" --layers --target "$TARGET" \
  -v "$(dirname "$CERT")":/host-certs:ro --build-arg PIP_CERT="/host-certs/$(basename "$CERT")" \
  --build-arg BASE="$BASE_IMAGE" --build-arg VERSION="$VERSION" \
  --build-arg REVISION="$REVISION" --build-arg SOURCE="$SOURCE" \
  ${BUILD_ARGS[@]+"${BUILD_ARGS[@]}"} -t "$IMAGE" -f Dockerfile . \
  || fail "buildah bud --target $TARGET"
BUILD_S=$(( $(date +%s) - t0 ))

# buildah prints sizes in SI units with three significant digits ("861 MB", "1.23 GB").
size_of() {
  buildah images --format '{{.Size}}' "$1" | head -1 | python3 -c '
import sys
num, unit = sys.stdin.read().split()
print(int(float(num) * {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[unit]))'
}
IMG_BYTES=$(size_of "$IMAGE")
BASE_BYTES=$(size_of "$BASE_IMAGE")
ADDED_MB=$(( (IMG_BYTES - BASE_BYTES) / 1000000 ))

# --- smoke tests inside the image ----------------------------------------------------------------
CTR=$(buildah from "$IMAGE")
# buildah's chroot runtime now and then fails to set a run up ("sealing memfd copy: Device or
# resource busy") before the command starts; only that failure is retried, once.
inside() {
  local rc=0
  for attempt in 1 2; do
    buildah run "${ISO[@]}" "$CTR" -- "$@" 2>"$WORK/run.err" && rc=0 || rc=$?
    cat "$WORK/run.err" >&2
    if [ "$rc" = 0 ] || ! grep -q "sealing memfd" "$WORK/run.err"; then return "$rc"; fi
    echo "container_smoke: buildah run did not start (attempt $attempt), retrying" >&2
  done
  return "$rc"
}

step "realtime --version"
out=$(inside realtime --version) || fail "realtime --version"
echo "$out"
[ "$out" = "realtime $VERSION" ] || fail "version is '$out', expected 'realtime $VERSION'"
label=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "org.opencontainers.image.version"}}' "$IMAGE")
[ "$label" = "$VERSION" ] || fail "image label version '$label' != $VERSION"

step "user, variant and OpenCV"
inside sh -c 'id -u; echo "variant=$REALTIME_IMAGE_VARIANT cache=$REALTIME_CACHE_DIR models=$REALTIME_MODELS_DIR"'
[ "$(inside id -u)" != 0 ] || fail "the image runs as root"
inside python -c 'import cv2; print("cv2", cv2.__version__)' || fail "import cv2"
if inside python -c 'import importlib.metadata as m; m.version("opencv-python")' 2>/dev/null; then
  fail "the GUI build opencv-python is installed; the image should carry only opencv-python-headless"
fi
if inside sh -c 'command -v gcc || command -v cc || ls /root/.cache/pip' >/dev/null 2>&1; then
  fail "a compiler or a pip cache is in the final image"
fi

step "inference on the bundled models (ONNX Runtime and LiteRT, after the image's trimming)"
inside python - <<'EOF' || fail "inference on the bundled models"
import importlib.resources as r, numpy as np, onnxruntime as ort
models = r.files("realtime") / "assets" / "models"
sess = ort.InferenceSession(str(models / "face_detection_short_range.onnx"), providers=["CPUExecutionProvider"])
inp = sess.get_inputs()[0]
shape = [d if isinstance(d, int) else 1 for d in inp.shape]
outs = sess.run(None, {inp.name: np.zeros(shape, np.float32)})
print("onnxruntime", ort.__version__, "ran", inp.name, shape, "->", [o.shape for o in outs])
try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:
    print("ai_edge_litert is not installed")
else:
    it = Interpreter(model_path=str(models / "face_detection_short_range.tflite"))
    it.allocate_tensors()
    d = it.get_input_details()[0]
    it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    it.invoke()
    print("LiteRT ran", d["shape"].tolist(), "->", [o["shape"].tolist() for o in it.get_output_details()])
EOF

step "resources"
inside python -c 'from realtime.resources import startup_banner; print(startup_banner())' \
  || fail "realtime.resources"

step "realtime doctor --json"
set +e
inside realtime doctor --json >"$WORK/doctor.json" 2>"$WORK/doctor.err"
rc=$?
set -e
cat "$WORK/doctor.json"; cat "$WORK/doctor.err" >&2
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/doctor.json" \
  || fail "doctor --json did not print JSON (exit $rc)"
# doctor exits 1 when it found problems to fix; anything else is a crash.
[ "$rc" -le 1 ] || fail "doctor exited $rc"

step "container checks (what realtime doctor adds inside a container)"
inside python -c 'import json; from realtime.doctor.container import container_checks; print(json.dumps(container_checks(), indent=1))' \
  | tee "$WORK/checks.json" || fail "container_checks"
if [ "$TARGET" = cuda ] && ! ls /dev/nvidiactl >/dev/null 2>&1; then
  grep -q -- "--gpus all" "$WORK/checks.json" || fail "no GPU here, but the checks do not say --gpus all"
fi

if [ "$TARGET" = cuda ]; then
  step "CUDA libraries and providers"
  # ldd resolves every library each provider links; only the driver's libcuda may be missing
  # (the NVIDIA Container Toolkit brings it in from the host), so this proves the CUDA, cuDNN
  # and TensorRT wheels are found without a GPU being present.
  inside python - <<'EOF' || fail "CUDA provider libraries"
import importlib.util, os, subprocess, onnxruntime as ort
ort.preload_dlls()
providers = ort.get_available_providers()
print("onnxruntime", ort.__version__, "providers:", providers)
assert {"TensorrtExecutionProvider", "CUDAExecutionProvider"} <= set(providers), providers
capi = os.path.join(os.path.dirname(ort.__file__), "capi")
def unresolved(lib):
    out = subprocess.run(["ldd", os.path.join(capi, lib)], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if "not found" in line} - {"libcuda.so.1"}
missing = unresolved("libonnxruntime_providers_cuda.so")
assert not missing, f"the CUDA provider cannot find {sorted(missing)}"
print("CUDA provider: every library resolves (libcuda.so.1 comes from the host driver)")
missing = unresolved("libonnxruntime_providers_tensorrt.so")
if importlib.util.find_spec("tensorrt") is not None:
    import tensorrt
    print("import tensorrt:", tensorrt.__version__)
    assert not missing, f"the TensorRT provider cannot find {sorted(missing)}"
    print("TensorRT provider: every library resolves")
else:
    print("tensorrt is not installed (built with TENSORRT=0); the TensorRT provider lacks", sorted(missing))
EOF
fi

if [ "$DEMO" = 1 ]; then
  step "demo to a file"
  inside sh -c 'rm -f /tmp/x.mp4 /tmp/x.json; s=$(date +%s.%N); realtime --demo --sink file --output /tmp/x.mp4 --duration 3 --stats-json /tmp/x.json --quiet && echo "launched_unix=$s"' \
    | tee "$WORK/demo.out" || fail "demo run"
  frames=$(inside python -c 'import av; c = av.open("/tmp/x.mp4"); print(sum(1 for _ in c.decode(video=0)))') \
    || fail "the demo output does not decode"
  echo "frames decoded from /tmp/x.mp4: $frames"
  [ "$frames" -gt 0 ] || fail "the demo output has no frames"
  inside cat /tmp/x.json >"$WORK/x.json"
  launched=$(sed -n 's/^launched_unix=//p' "$WORK/demo.out")
  STARTUP=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(round(s["first_output_unix"]-float(sys.argv[2]),3))' "$WORK/x.json" "$launched")
  echo "start-up to the first frame written, inside the image: ${STARTUP} s"
fi

step "what takes the space (du inside the image, MiB, largest first)"
inside sh -c 'du -xsm /opt/realtime/lib/python3*/site-packages/* 2>/dev/null | sort -rn | head -15; echo; du -xsm /opt/realtime /usr /var /cache 2>/dev/null | sort -rn'

step "summary"
echo "image:      $IMAGE"
echo "size:       $(( IMG_BYTES / 1000000 )) MB ($ADDED_MB MB on top of the base's $(( BASE_BYTES / 1000000 )) MB)"
echo "build time: ${BUILD_S} s"
if [ "$TARGET" = cpu ] && [ "$ADDED_MB" -gt 650 ]; then
  fail "the cpu image adds $ADDED_MB MB to its base; the budget is 650 MB"
fi
echo "container_smoke: OK"
