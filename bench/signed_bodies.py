"""Writes a wrk Lua script that replays Twilio webhook POSTs with precomputed signatures
(wrk cannot compute HMAC-SHA1). voice: a unique CallSid per request; gather: seeded calls."""

import base64
import hashlib
import hmac
import sys
from urllib.parse import urlencode

kind, base, token, count, out = sys.argv[1], sys.argv[2], sys.argv[3].encode(), int(sys.argv[4]), sys.argv[5]
path = f"/api/webhooks/twilio/{kind}"


def signed(params):
    data = base + path + "".join(k + v for k, v in sorted(params.items()))
    return urlencode(params), base64.b64encode(hmac.new(token, data.encode(), hashlib.sha1).digest()).decode()


# One "signature<TAB>body" line per request; the Lua script reads them at start (a Lua chunk
# with 100,000 assignments is too large for wrk to load).
with open(out + ".txt", "w") as data:
    for i in range(count):
        if kind == "voice":
            business = 1 + i % 200
            params = {"CallSid": f"CAbench{i}", "From": "+12125550123", "To": f"+1628555{business:04d}"}
        else:
            call = f"CAseed{1 + i % 200}x{1 + (i // 200) % 100}"
            params = {"CallSid": call, "SpeechResult": "Are you open on Saturday afternoon?", "Confidence": "0.93"}
        body, sig = signed(params)
        data.write(f"{sig}\t{body}\n")

with open(out, "w") as lua:
    lua.write(f"""
local sigs, bodies, n = {{}}, {{}}, 0
local counter = 0
local threads = 0
function setup(thread) thread:set("start", threads * 7919); threads = threads + 1 end
function init(args)
  for line in io.lines("{out}.txt") do
    local sig, body = line:match("^([^\t]+)\t(.*)$")
    n = n + 1; sigs[n] = sig; bodies[n] = body
  end
  counter = start
end
function request()
  counter = counter + 1
  local i = (counter % n) + 1
  return wrk.format("POST", "{path}", {{["Content-Type"] = "application/x-www-form-urlencoded",
                                        ["X-Twilio-Signature"] = sigs[i]}}, bodies[i])
end
""")
