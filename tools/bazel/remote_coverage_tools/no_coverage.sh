#!/bin/sh
echo "bazel coverage does not work offline: Bazel's coverage tools are not packaged in Debian" >&2
exit 1
