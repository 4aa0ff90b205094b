-- ddi.lua — wrk script: "nothing to do" polls of N devices, either through
-- suitd's device API check-in or hawkBit DDI's base poll (bench/ddi.sh).
--
-- Usage: wrk -tT -cC -dD --latency -s bench/ddi.lua URL -- MODE N T
--   MODE  device: GET /device/v1/manifest?seq=0, Authorization: Bearer TOKEN
--               (every answer must be 204)
--         ddi:    GET /DEFAULT/controller/v1/bench-<n>,
--               Authorization: TargetToken TOKEN (every answer must be 200
--               with a polling.sleep and no deploymentBase link)
--   N     registered devices bench-1..bench-N, token "suitd_dt_bench-<n>"
--   T     wrk's -t
-- Each thread walks its own slice of the devices, one device per request.
-- done() prints: poll: status=CODE:N... bad_body=N requests=N

local threads = {}

function setup(thread)
	thread:set("tid", #threads)
	table.insert(threads, thread)
end

local mode, n, pos
local seen_status, bad, sent = {}, 0, 0

function init(args)
	mode = args[1] or "ddi"
	n = tonumber(args[2] or 10000)
	local nthreads = tonumber(args[3] or 2)
	assert(mode == "device" or mode == "ddi", "ddi.lua: MODE is device or ddi")
	pos = (tid * math.floor(n / nthreads)) % n
end

function request()
	local d = pos + 1
	pos = (pos + 1) % n
	sent = sent + 1
	local tok = "suitd_dt_bench-" .. d
	if mode == "device" then
		return wrk.format("GET", "/device/v1/manifest?seq=0", { ["Authorization"] = "Bearer " .. tok })
	end
	return wrk.format("GET", "/DEFAULT/controller/v1/bench-" .. d,
		{ ["Authorization"] = "TargetToken " .. tok })
end

function response(status, headers, body)
	seen_status[status] = (seen_status[status] or 0) + 1
	if mode == "device" then
		if #body ~= 0 then bad = bad + 1 end
	elseif not body:find('"sleep":"%d%d:%d%d:%d%d"') or body:find("deploymentBase") then
		bad = bad + 1
	end
	statuses = ""
	for s, c in pairs(seen_status) do
		statuses = statuses .. s .. ":" .. c .. " "
	end
	bad_body, requests_sent = bad, sent
end

function done(summary, latency, requests)
	local total, bads, sent_all = {}, 0, 0
	for _, t in ipairs(threads) do
		local s = t:get("statuses") or ""
		for code, c in s:gmatch("(%d+):(%d+)") do
			total[code] = (total[code] or 0) + tonumber(c)
		end
		bads = bads + (t:get("bad_body") or 0)
		sent_all = sent_all + (t:get("requests_sent") or 0)
	end
	local parts = {}
	for code, c in pairs(total) do
		table.insert(parts, "status=" .. code .. ":" .. c)
	end
	table.sort(parts)
	io.write(string.format("poll: %s bad_body=%d requests=%d\n", table.concat(parts, " "),
		bads, sent_all))
end
