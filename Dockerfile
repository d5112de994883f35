# syntax=docker/dockerfile:1.4
# realtime container images: two variants from one base and one set of dependency layers.
#
#   docker build -t realtime:cpu .                    # plain ONNX Runtime (the default target)
#   docker build -t realtime:cuda --target cuda .     # onnxruntime-gpu + CUDA/cuDNN/TensorRT wheels
#
# BASE needs nothing but python3 with the venv module, so a base built from Debian packages
# (tools/container_smoke.sh makes one with debootstrap) works as well as the official image.
# Behind a TLS-intercepting proxy, bring the proxy's CA bundle into the build and name its
# path with PIP_CERT; pip uses it in the builder stages only, and it never reaches an image:
#   buildah bud -v /etc/ssl/certs:/host-certs:ro --build-arg PIP_CERT=/host-certs/ca-certificates.crt .
#   docker build --secret id=pip_cert,src=/etc/ssl/certs/ca-certificates.crt \
#                --build-arg PIP_CERT=/run/secrets/pip_cert .
# docs/containers.md explains every run flag.

ARG BASE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------
# builder: an empty venv and the dependency list read from pyproject.toml, so the dependency
# layers below are rebuilt only when pyproject.toml changes, never for a change to realtime/.
# ---------------------------------------------------------------------------------------------
FROM ${BASE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/realtime
WORKDIR /src
COPY pyproject.toml ./
# requirements.py EXTRA... prints the project's dependencies plus those extras, one a line,
# with opencv-python swapped for opencv-python-headless: a container has no display, and the
# GUI build would drag in X11/Qt libraries for nothing.
RUN printf '%s\n' \
      'import importlib, re, sys' \
      'toml = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "pip._vendor.tomli")' \
      'project = toml.load(open("/src/pyproject.toml", "rb"))["project"]' \
      'reqs = list(project["dependencies"])' \
      'for extra in sys.argv[1:]:' \
      '    reqs += project["optional-dependencies"][extra]' \
      'for req in reqs:' \
      '    if re.match(r"realtime\b", req):' \
      '        sys.exit(f"requirements.py: self-referencing extra {req!r} is not supported")' \
      '    print(re.sub(r"^opencv-python(?![-\w])", "opencv-python-headless", req))' \
      > /usr/local/bin/requirements.py
# slim-venv.sh takes out of the venv that the final image copies what a run never uses:
# - pip and setuptools (the app is installed by the app stage, see there);
# - the packages' own test suites (numba's and numpy's are 30+ MB, ONNX's backend test data 17);
# - ONNX Runtime's model-optimisation tools (transformers/, quantization/), LiteRT's NPU
#   vendor plugins (phones, Qualcomm, MediaTek, ...) and its WebGPU accelerator, for which a
#   container has no device; LiteRT looks these up at run time and goes on without them;
# - symbol tables of shared libraries that still carry them (llvmlite's alone is 18 MB), with
#   binutils' strip, where the base has apt to install it: it stays in this builder stage.
#   Libraries that auditwheel patched may not load once stripped (numpy's OpenBLAS: "ELF load
#   command address/offset not page-aligned"), so each is loaded after stripping and put back
#   as it was when that fails.
RUN if command -v apt-get >/dev/null; then \
      apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends binutils \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && printf '%s\n' \
      '#!/bin/sh' \
      'set -eu' \
      'sp=$(/opt/realtime/bin/python -c "import sysconfig; print(sysconfig.get_paths()[\"purelib\"])")' \
      '/opt/realtime/bin/pip uninstall -q -y pip setuptools' \
      'find "$sp" -depth -type d -name tests -exec rm -rf {} +' \
      'rm -rf "$sp/onnxruntime/transformers" "$sp/onnxruntime/quantization" "$sp/onnx/backend/test" \' \
      '       "$sp/ai_edge_litert/vendors" "$sp"/ai_edge_litert/libLiteRtWebGpuAccelerator*.so' \
      'command -v strip >/dev/null || { echo "slim-venv: no strip here; libraries keep their symbols"; exit 0; }' \
      'find "$sp" -type f \( -name "*.so" -o -name "*.so.*" \) | while read -r lib; do' \
      '  readelf -S "$lib" 2>/dev/null | grep -q "\.symtab" || continue' \
      '  cp -p "$lib" "$lib.orig"' \
      '  if strip --strip-unneeded "$lib" && /opt/realtime/bin/python -c "import ctypes, sys; ctypes.CDLL(sys.argv[1])" "$lib"; then' \
      '    rm "$lib.orig"' \
      '  else' \
      '    mv "$lib.orig" "$lib"; echo "slim-venv: $lib does not load once stripped; kept as it was"' \
      '  fi' \
      'done' \
      > /usr/local/bin/slim-venv.sh \
 && chmod +x /usr/local/bin/slim-venv.sh

# ---------------------------------------------------------------------------------------------
# deps-cpu / deps-cuda: the third-party packages of each variant, in the venv.
# Wheels are collected in a wheelhouse on a cache mount and installed from there: `pip wheel`
# skips a file it already has, so a rebuild fetches only index pages, and anything published
# only as an sdist is built here, in the builder. (pip's own HTTP cache obeys the responses'
# cache headers, which a TLS-intercepting proxy may drop.)
# ---------------------------------------------------------------------------------------------
FROM builder AS deps-cpu
ARG PIP_CERT=
RUN --mount=type=cache,target=/wheelhouse,sharing=locked --mount=type=secret,id=pip_cert,required=false \
    /opt/realtime/bin/python /usr/local/bin/requirements.py cpu > /tmp/requirements.txt \
 && /opt/realtime/bin/pip wheel ${PIP_CERT:+--cert "$PIP_CERT"} -w /wheelhouse -r /tmp/requirements.txt \
 && /opt/realtime/bin/pip install --no-index --find-links /wheelhouse -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt && slim-venv.sh

FROM builder AS deps-cuda
ARG PIP_CERT=
# TensorRT's libraries are published on NVIDIA's package index (the packages on PyPI are
# stubs that fetch from it), so that index is added when TENSORRT=1; TENSORRT=0 builds the
# CUDA variant without TensorRT where it cannot be reached. The project's [tensorrt] extra
# would take TensorRT 11, but ONNX Runtime's TensorRT provider links libnvinfer.so.10, so
# the image takes the TensorRT 10 build for ONNX Runtime's CUDA major instead.
ARG TENSORRT=1
ARG TENSORRT_REQUIREMENT="tensorrt-cu13>=10,<11"
ARG NVIDIA_INDEX=https://pypi.nvidia.com
# onnxruntime-gpu[cuda,cudnn] pulls NVIDIA's CUDA runtime and cuDNN wheels that match the
# ONNX Runtime build; onnxruntime.preload_dlls() finds them at run time.
RUN --mount=type=cache,target=/wheelhouse,sharing=locked --mount=type=secret,id=pip_cert,required=false \
    /opt/realtime/bin/python /usr/local/bin/requirements.py gpu > /tmp/requirements.txt \
 && echo 'onnxruntime-gpu[cuda,cudnn]' >> /tmp/requirements.txt \
 && index="" \
 && if [ "$TENSORRT" = 1 ]; then \
      echo "$TENSORRT_REQUIREMENT" >> /tmp/requirements.txt; index="--extra-index-url $NVIDIA_INDEX"; \
    fi \
 && /opt/realtime/bin/pip wheel ${PIP_CERT:+--cert "$PIP_CERT"} $index -w /wheelhouse -r /tmp/requirements.txt \
 && /opt/realtime/bin/pip install --no-index --find-links /wheelhouse -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt && slim-venv.sh

# ---------------------------------------------------------------------------------------------
# app: the project itself as a wheel (package data, manifests and bundled models included),
# installed into the venv's own paths under /staging, so that the final stages add it with one
# small COPY on top of the cached dependency layer, and need neither pip nor the wheel.
# ---------------------------------------------------------------------------------------------
FROM builder AS app
ARG PIP_CERT=
COPY . /src
RUN --mount=type=cache,target=/wheelhouse,sharing=locked --mount=type=secret,id=pip_cert,required=false \
    /opt/realtime/bin/pip wheel --find-links /wheelhouse ${PIP_CERT:+--cert "$PIP_CERT"} --no-deps -w /wheels /src \
 && /opt/realtime/bin/pip install --no-deps --root /staging /wheels/*.whl

# ---------------------------------------------------------------------------------------------
# runtime: what both variants share. No compiler, no pip cache, a non-root user, one volume.
# ---------------------------------------------------------------------------------------------
FROM ${BASE} AS runtime
# The user is written into /etc/passwd directly because a debootstrap minbase has no useradd.
# It joins "video" (GID 44 on Debian) so a camera passed in with --device is readable; hosts
# whose video group has another GID add it with --group-add (docs/containers.md).
RUN echo 'realtime:x:10001:10001:realtime:/home/realtime:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'realtime:x:10001:' >> /etc/group \
 && if grep -q '^video:' /etc/group; then sed -i '/^video:/ s/$/,realtime/; s/:,realtime$/:realtime/' /etc/group; \
    else echo 'video:x:44:realtime' >> /etc/group; fi \
 && mkdir -p /home/realtime /cache/models /cache/engines /cache/numba \
 && chown -R 10001:10001 /home/realtime /cache
# One volume holds every cache: downloaded models, TensorRT engines, numba's compiled kernels.
ENV PATH=/opt/realtime/bin:$PATH \
    HOME=/home/realtime \
    PYTHONUNBUFFERED=1 \
    REALTIME_CACHE_DIR=/cache \
    REALTIME_MODELS_DIR=/cache/models \
    REALTIME_ENGINE_DIR=/cache/engines \
    NUMBA_CACHE_DIR=/cache/numba \
    XDG_CACHE_HOME=/cache
VOLUME ["/cache"]
WORKDIR /home/realtime
ENTRYPOINT ["realtime"]
CMD ["--help"]

# ---------------------------------------------------------------------------------------------
# cuda: onnxruntime-gpu with CUDA, cuDNN and TensorRT from NVIDIA's pip wheels. Needs the
# host's NVIDIA driver passed in (docker run --gpus all); no NVIDIA base image.
# ---------------------------------------------------------------------------------------------
FROM runtime AS cuda
ENV REALTIME_IMAGE_VARIANT=cuda \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,video
LABEL realtime.variant="cuda"
COPY --from=deps-cuda /opt/realtime /opt/realtime
# The NVIDIA library folders go into the loader's search path as well, so TensorRT's
# libnvinfer is found by ONNX Runtime's TensorRT provider without importing tensorrt first.
RUN /opt/realtime/bin/python -c "import glob, sysconfig; sp = sysconfig.get_paths()['purelib']; print('\n'.join(sorted(set(glob.glob(sp + '/nvidia/*/lib') + glob.glob(sp + '/tensorrt*libs')))))" \
      > /etc/ld.so.conf.d/realtime-nvidia.conf \
 && ldconfig
COPY --from=app /staging/opt/realtime/ /opt/realtime/
# Labels come last: the revision changes with every commit and must not invalidate a layer.
ARG VERSION=0.1.0
ARG SOURCE=
ARG REVISION=
LABEL org.opencontainers.image.title="realtime" \
      org.opencontainers.image.description="Live face swap from a webcam to a virtual camera" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 10001:10001

# ---------------------------------------------------------------------------------------------
# cpu (the default target, so it is last): the project on plain ONNX Runtime.
# ---------------------------------------------------------------------------------------------
FROM runtime AS cpu
ENV REALTIME_IMAGE_VARIANT=cpu
LABEL realtime.variant="cpu"
COPY --from=deps-cpu /opt/realtime /opt/realtime
COPY --from=app /staging/opt/realtime/ /opt/realtime/
# Labels come last: the revision changes with every commit and must not invalidate a layer.
ARG VERSION=0.1.0
ARG SOURCE=
ARG REVISION=
LABEL org.opencontainers.image.title="realtime" \
      org.opencontainers.image.description="Live face swap from a webcam to a virtual camera" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 10001:10001
