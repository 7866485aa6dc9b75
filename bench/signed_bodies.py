"""Writes a wrk Lua script that replays Twilio webhook POSTs with precomputed signatures
(wrk cannot compute HMAC-SHA1). voice: a unique CallSid per request (prefixed by the run, so
no two runs share one); gather: seeded calls.

Each wrk thread (at most two) takes every other line, so threads never send the same body,
and no line is sent twice: a thread that runs out sends an unsigned request instead, which
the server refuses (403) and wrk counts as an error, so an exhausted file is visible."""

import base64
import hashlib
import hmac
import sys
from urllib.parse import urlencode

kind, base, token, count, out = sys.argv[1], sys.argv[2], sys.argv[3].encode(), int(sys.argv[4]), sys.argv[5]
run = sys.argv[6] if len(sys.argv) > 6 else "0"
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
            params = {"CallSid": f"CAbench{run}x{i}", "From": "+12125550123", "To": f"+1628555{business:04d}"}
        else:
            call = f"CAseed{1 + i % 200}x{1 + (i // 200) % 100}"
            params = {"CallSid": call, "SpeechResult": "Are you open on Saturday afternoon?", "Confidence": "0.93"}
        body, sig = signed(params)
        data.write(f"{sig}\t{body}\n")

wraps = "true" if kind == "gather" else "false"
with open(out, "w") as lua:
    lua.write(f"""
local sigs, bodies, n = {{}}, {{}}, 0
local next_id = 0
local wraps = {wraps}
function setup(thread) thread:set("id", next_id); next_id = next_id + 1 end
function init(args)
  local line_no = 0
  for line in io.lines("{out}.txt") do
    if line_no % 2 == id then
      local sig, body = line:match("^([^\t]+)\t(.*)$")
      n = n + 1; sigs[n] = sig; bodies[n] = body
    end
    line_no = line_no + 1
  end
  counter = 0
end
function request()
  counter = counter + 1
  if counter > n then
    if not wraps then
      return wrk.format("POST", "{path}", {{["Content-Type"] = "application/x-www-form-urlencoded"}}, "exhausted=1")
    end
    counter = 1
  end
  return wrk.format("POST", "{path}", {{["Content-Type"] = "application/x-www-form-urlencoded",
                                        ["X-Twilio-Signature"] = sigs[counter]}}, bodies[counter])
end
""")
