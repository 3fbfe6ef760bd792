#!/usr/bin/env bash
# Runs every `<!-- example-test -->` block of walkthrough.md (both terminals, as printed) and
# writes what the programs printed to transcripts/NAME.txt, normalised (ports as the document
# shows them, the scratch folder as ~/socklab-play). The book shows these files in place of the
# blocks. Without SOCKLAB_RECORD_TRANSCRIPTS the same test compares instead of writing, and fails
# when a transcript no longer matches a fresh run:
#     cargo test --test walkthrough_examples
# Run this after changing an example block or the output of a program an example shows.
set -euo pipefail
cd "$(dirname "$0")/.."
# Start empty, so that the transcript of a block that no longer exists goes too. Only the
# files this test records (NN-binary-N.txt): those of `<!-- transcript: FILE -->` markers, such
# as the benchmark's bench.txt, are written by their own programs.
rm -f transcripts/[0-9][0-9]-*.txt transcripts/example-*.txt
SOCKLAB_RECORD_TRANSCRIPTS=1 cargo test --test walkthrough_examples -- walkthrough_examples_run_as_printed
git status --short transcripts/
