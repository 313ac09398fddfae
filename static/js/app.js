// rustexpert's own browser code: small, no inline scripts (the CSP forbids them).
"use strict";
