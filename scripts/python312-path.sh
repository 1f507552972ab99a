#!/usr/bin/env bash
# Prints a folder holding a working python3.12 (what `sam build` needs for the
# python3.12 runtime). pyenv versions first: a pyenv shim may exist but not run.
for candidate in /root/.pyenv/versions/3.12*/bin "$HOME"/.pyenv/versions/3.12*/bin \
                 "$(dirname "$(command -v python3.12 2>/dev/null || echo /nonexistent/x)")"; do
  if [ -x "$candidate/python3.12" ] && "$candidate/python3.12" --version >/dev/null 2>&1; then
    echo "$candidate"; exit 0
  fi
done
exit 1
