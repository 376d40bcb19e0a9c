#!/bin/bash
# PLACEHOLDER (issue 3 replaces it): reports the SPEC §5 signal and does nothing else.
set -euo pipefail
echo "gdib: state=running"
echo "gdib: state=failed"
echo "gdib: error=placeholder script"
exit 1
