#!/bin/bash -eu
# Builds every cargo-fuzz target of fuzz/ and hands it to ClusterFuzzLite / OSS-Fuzz with its
# seed corpus and the MQTT dictionary. Runs inside the base-builder-rust image ($SRC, $OUT and
# the sanitizer flags come from there).
cd "$SRC/mqttspec"

cargo fuzz build -O

release=fuzz/target/x86_64-unknown-linux-gnu/release
for source in fuzz/fuzz_targets/*.rs; do
    target=$(basename "${source%.rs}")
    cp "$release/$target" "$OUT/"
    cp corpus/fuzz/mqtt.dict "$OUT/$target.dict"
    if [ -d "corpus/fuzz/$target" ]; then
        # Seeds and past findings both make good starting points.
        (cd corpus/fuzz && zip -q -r -j "$OUT/${target}_seed_corpus.zip" "$target" \
            $( [ -d "regressions/$target" ] && echo "regressions/$target" ))
    fi
done
