#!/bin/sh
# Writes the workspace's dependency skeleton to DEST: Cargo.toml, Cargo.lock, every member's
# Cargo.toml and an empty file at each target those manifests name (src/lib.rs, [[bin]],
# [[bench]], [[example]], [[test]]). The Dockerfiles build it first, so the layer holding every
# compiled dependency changes only when the manifests or the lockfile do: a source change
# rebuilds the workspace's own crates and nothing else, and Cloud Build's --cache-from finds
# the dependencies in the registry. POSIX sh and awk: it runs in the builder image.
#   sh deploy/docker/dependency-stubs.sh SRC DEST
set -eu
src="$1"
dest="$2"
mkdir -p "$dest"
cd "$src"
cp Cargo.toml Cargo.lock "$dest/"
for extra in rust-toolchain rust-toolchain.toml .cargo/config.toml; do
  if [ -f "$extra" ]; then
    mkdir -p "$dest/$(dirname "$extra")"
    cp "$extra" "$dest/$extra"
  fi
done
find . -name Cargo.toml -not -path './Cargo.toml' -not -path './fuzz/*' -not -path '*/target/*' \
  -not -path './.git/*' | sort | while read -r manifest; do
  dir="$(dirname "$manifest")"
  mkdir -p "$dest/$dir"
  cp "$manifest" "$dest/$manifest"
  # One path per line: the library, then each declared target's path (given or cargo's default).
  awk '
    function flush() {
      if (kind == "") return
      if (path == "" && kind == "lib") path = "src/lib.rs"
      if (path == "" && kind == "bin") path = "src/bin/" name ".rs"
      if (path == "" && kind == "bench") path = "benches/" name ".rs"
      if (path == "" && kind == "example") path = "examples/" name ".rs"
      if (path == "" && kind == "test") path = "tests/" name ".rs"
      if (path != "") print kind " " path
      kind = ""; name = ""; path = ""
    }
    /^\[/ {
      flush()
      if ($0 ~ /^\[lib\]/) kind = "lib"
      else if ($0 ~ /^\[\[bin\]\]/) kind = "bin"
      else if ($0 ~ /^\[\[bench\]\]/) kind = "bench"
      else if ($0 ~ /^\[\[example\]\]/) kind = "example"
      else if ($0 ~ /^\[\[test\]\]/) kind = "test"
      next
    }
    kind != "" && /^[ \t]*name[ \t]*=/ { v = $0; sub(/^[^=]*=[ \t]*"/, "", v); sub(/".*/, "", v); name = v }
    kind != "" && /^[ \t]*path[ \t]*=/ { v = $0; sub(/^[^=]*=[ \t]*"/, "", v); sub(/".*/, "", v); path = v }
    END { flush(); print "lib src/lib.rs" }
  ' "$manifest" | while read -r kind path; do
    target="$dest/$dir/$path"
    [ -e "$target" ] && continue
    mkdir -p "$(dirname "$target")"
    case "$kind" in
      lib | test) : > "$target" ;;
      *) echo 'fn main() {}' > "$target" ;;
    esac
  done
done
