#!/usr/bin/env bash
# XTS-AES-256 throughput per core: nbdvault's AesXts (JMH) vs the JDK's AES/ECB ceiling vs
# `openssl speed -evp aes-256-xts -elapsed`, single-threaded, JMH forks and openssl interleaved in
# the same run. The XTS part of bench/run.sh; writes bench/results/<date>/ and latest.md as it does.
# usage: bench/xts-vs-openssl.sh [--quick] [--reps N] [--no-build]     (JAVA=... picks the JDK)
exec "$(dirname "$0")/run.sh" --only xts "$@"
