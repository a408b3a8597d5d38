# Sourced by the bench/* scripts: builds the simulator jar when it is missing or older than the
# sources, then runs a main class with the JVM settings every dsparse process needs.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ensure_built() {
  local jar="$ROOT/simulator/target/simulator.jar"
  if [ ! -f "$jar" ] || [ -n "$(find "$ROOT" -path '*/src/*' -newer "$jar" -type f -print -quit)" ]; then
    echo "building (mvn package -DskipTests) ..." >&2
    mvn -B -q -DskipTests package >&2
  fi
}

# DJL offline with a writable cache; one PyTorch thread each, since processes share 2 cores.
# DSPARSE_JAVA_OPTS adds JVM options, e.g. -Ddsparse.collective.chunk-size=1MiB (bench/allreduce
# passes -Ddsparse.* settings on to its member JVMs).
dsparse_java() {
  # shellcheck disable=SC2086
  java ${DSPARSE_JAVA_OPTS:-} -Dai.djl.offline=true -DDJL_CACHE_DIR="$ROOT/target/djl-cache" \
    -Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1 \
    -cp "$ROOT/simulator/target/simulator.jar:$ROOT/simulator/target/lib/*" "$@"
}
