#!/usr/bin/env bash
# Measures the figures chapter 3's pages show (Nagle vs TCP_NODELAY, write
# system calls, fsync) on this machine and writes them, with the commands
# that produced them, to ch03-listen-accept/testdata/figures.txt, which the
# book includes. Run it on an idle machine: the figures are timings.
set -euo pipefail
cd "$(dirname "$0")/.."
out=ch03-listen-accept/testdata/figures.txt
bin=$(mktemp -d)
dir=$(mktemp -d)
trap 'rm -rf "$bin" "$dir"' EXIT
go build -o "$bin/ch03" ./ch03-listen-accept
fs=$(df -T "$dir" | awk 'NR==2 {print $2}')
{
	echo "# $(uname -sr), $(nproc) CPUs, $(date -u +%Y-%m-%d); fsync in a directory on $fs"
	echo "\$ go run ./ch03-listen-accept nodelay -n 50"
	"$bin/ch03" nodelay -n 50
	echo "\$ go run ./ch03-listen-accept writes -n 1000"
	"$bin/ch03" writes -n 1000
	echo "\$ go run ./ch03-listen-accept fsync -n 100 -dir DIR"
	"$bin/ch03" fsync -n 100 -dir "$dir" >"$bin/fsync.txt"
	head -2 "$bin/fsync.txt" # the timings; the rest is the durable path
} >"$out"
cat "$out"
