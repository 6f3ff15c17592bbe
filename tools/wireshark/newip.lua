-- Wireshark / tshark dissector for New IP (EtherType 0x88B6) as spoken by
-- newipd: the NewIP-Linux base format plus newipd's extensions (TLV
-- contracts 0x8001 precise LBF, 0x8002 on-time, 0x8003 qualitative payload,
-- flexible-length addresses), and a post-dissector that decodes the precise
-- LBF value carried in IPv6 Hop-by-Hop option 0x3E.
--
-- Usage:
--   tshark -X lua_script:tools/wireshark/newip.lua -r capture.pcap -V
--   tshark -X lua_script:tools/wireshark/newip.lua -r capture.pcap \
--          -T fields -e newip.dst_addr -e newip.plbf.max_ns
-- or copy it into your Wireshark personal plugins folder.
--
-- The format is described in docs/wire-format.md.

local newip = Proto("newip", "New IP")

local addr_types = { [0] = "IPv4", [1] = "IPv6", [2] = "8-bit", [3] = "16-bit", [4] = "Flexible" }
local casts = { [0] = "Unicast", [1] = "Coordcast", [2] = "Multicast", [3] = "Broadcast", [4] = "Groupcast" }
local contract_types = {
    [1] = "Max Delay Forwarding",
    [2] = "Latency Based Forwarding",
    [3] = "Ping",
    [0x8001] = "Precise LBF",
    [0x8002] = "On-time delivery",
    [0x8003] = "Qualitative payload",
}
local ping_codes = { [0] = "Request", [1] = "Response" }

local F = {
    shipping_offset = ProtoField.uint8("newip.shipping_offset", "Shipping offset"),
    contract_offset = ProtoField.uint8("newip.contract_offset", "Contract offset"),
    payload_offset  = ProtoField.uint8("newip.payload_offset", "Payload offset"),
    src_type = ProtoField.uint8("newip.src_type", "Source address type", base.DEC, addr_types),
    dst_type = ProtoField.uint8("newip.dst_type", "Destination address type", base.DEC, addr_types),
    cast     = ProtoField.uint8("newip.cast", "Address cast", base.DEC, casts),
    src_addr = ProtoField.string("newip.src_addr", "Source address"),
    dst_addr = ProtoField.string("newip.dst_addr", "Destination address"),
    src_ipv4 = ProtoField.ipv4("newip.src_ipv4", "Source IPv4"),
    dst_ipv4 = ProtoField.ipv4("newip.dst_ipv4", "Destination IPv4"),
    src_ipv6 = ProtoField.ipv6("newip.src_ipv6", "Source IPv6"),
    dst_ipv6 = ProtoField.ipv6("newip.dst_ipv6", "Destination IPv6"),
    src_8bit = ProtoField.uint8("newip.src_8bit", "Source 8-bit address"),
    dst_8bit = ProtoField.uint8("newip.dst_8bit", "Destination 8-bit address"),
    src_16bit = ProtoField.uint16("newip.src_16bit", "Source 16-bit address"),
    dst_16bit = ProtoField.uint16("newip.dst_16bit", "Destination 16-bit address"),
    src_flex_len = ProtoField.uint8("newip.src_flex_len", "Source flexible address length"),
    dst_flex_len = ProtoField.uint8("newip.dst_flex_len", "Destination flexible address length"),
    src_flex = ProtoField.bytes("newip.src_flex", "Source flexible address"),
    dst_flex = ProtoField.bytes("newip.dst_flex", "Destination flexible address"),

    contract = ProtoField.none("newip.contract", "Contract"),
    contract_type = ProtoField.uint16("newip.contract.type", "Contract type", base.HEX, contract_types),
    contract_length = ProtoField.uint16("newip.contract.length", "TLV length"),
    contract_value = ProtoField.bytes("newip.contract.value", "TLV value"),
    contract_unknown = ProtoField.bool("newip.contract.unknown", "Unknown TLV (skipped)"),

    mdf_max = ProtoField.uint16("newip.mdf.max_allowed_delay", "Max allowed delay (ms)"),
    mdf_exp = ProtoField.uint16("newip.mdf.delay_exp", "Delay experienced (ms)"),

    lbf_min = ProtoField.uint16("newip.lbf.min_delay", "Min delay (ms)"),
    lbf_max = ProtoField.uint16("newip.lbf.max_delay", "Max delay (ms, 0 = best effort)"),
    lbf_exp = ProtoField.uint16("newip.lbf.experienced_delay", "Experienced delay (0.1 ms)"),
    lbf_todelay = ProtoField.uint16("newip.lbf.fib_todelay", "FIB to-delay (ms)"),
    lbf_tohops = ProtoField.uint16("newip.lbf.fib_tohops", "FIB to-hops"),

    ping_code = ProtoField.uint16("newip.ping.code", "Code", base.DEC, ping_codes),
    ping_hops = ProtoField.uint16("newip.ping.hops", "Hops"),
    ping_ts = ProtoField.uint64("newip.ping.timestamp", "Timestamp (us)"),

    plbf_min = ProtoField.uint32("newip.plbf.min_ns", "Min delivery (ns, 0 = none)"),
    plbf_max = ProtoField.uint32("newip.plbf.max_ns", "Max delivery (ns, 0 = best effort)"),
    plbf_exp = ProtoField.uint32("newip.plbf.experienced_ns", "Experienced (ns)"),
    plbf_hops = ProtoField.uint16("newip.plbf.hops", "Hops so far"),
    plbf_flags = ProtoField.uint16("newip.plbf.flags", "Flags", base.HEX),
    plbf_late_ok = ProtoField.bool("newip.plbf.late_ok", "Late OK", 16, nil, 0x0001),

    ot_damper = ProtoField.uint32("newip.ontime.damper_ns", "Damper (ns)"),
    ot_prio = ProtoField.uint8("newip.ontime.prio", "Priority"),
    ot_flags = ProtoField.uint8("newip.ontime.flags", "Flags", base.HEX),
    ot_di = ProtoField.bool("newip.ontime.di", "Downgrade intent (Di)", 8, nil, 0x01),
    ot_ds = ProtoField.bool("newip.ontime.ds", "Downgrade status (Ds)", 8, nil, 0x02),
    ot_reserved = ProtoField.uint16("newip.ontime.reserved", "Reserved", base.HEX),

    qual_count = ProtoField.uint8("newip.qual.count", "Chunk count"),
    qual_reserved = ProtoField.bytes("newip.qual.reserved", "Reserved"),
    qual_chunk = ProtoField.none("newip.qual.chunk", "Chunk"),
    qual_chunk_offset = ProtoField.uint16("newip.qual.chunk.offset", "Offset in payload"),
    qual_chunk_length = ProtoField.uint16("newip.qual.chunk.length", "Length"),
    qual_chunk_sig = ProtoField.uint8("newip.qual.chunk.significance", "Significance (0 = essential)"),
    qual_chunk_flags = ProtoField.uint8("newip.qual.chunk.flags", "Flags", base.HEX),
    qual_chunk_washed = ProtoField.bool("newip.qual.chunk.washed", "Washed", 8, nil, 0x01),
    qual_chunk_data = ProtoField.bytes("newip.qual.chunk.data", "Chunk data"),

    payload = ProtoField.bytes("newip.payload", "Payload"),
    hbh_value_offset = ProtoField.uint16("newip.hbh.value_offset", "Option value offset from IPv6 header"),
}
local field_list = {}
for _, f in pairs(F) do field_list[#field_list + 1] = f end
newip.fields = field_list

local E = {
    malformed = ProtoExpert.new("newip.malformed", "Malformed New IP header", expert.group.MALFORMED, expert.severity.ERROR),
    hbh_malformed = ProtoExpert.new("newip.hbh.malformed", "Malformed IPv6 Hop-by-Hop option 0x3E", expert.group.MALFORMED, expert.severity.ERROR),
}
newip.experts = { E.malformed, E.hbh_malformed }

local function malformed(tree, pinfo, reason)
    tree:add_proto_expert_info(E.malformed, "malformed-newip-" .. reason)
    pinfo.cols.info:append(" [malformed-newip-" .. reason .. "]")
end

-- Formats an address value as text for newip.src_addr / newip.dst_addr.
local function addr_text(tvb, ty, off, len)
    local r = tvb(off, len)
    if ty == 0 then
        return tostring(r:ipv4())
    elseif ty == 1 then
        return tostring(r:ipv6())
    elseif ty == 2 or ty == 3 then
        return tostring(r:uint())
    else
        local parts = {}
        for i = 0, len - 1 do parts[#parts + 1] = string.format("%02x", tvb(off + i, 1):uint()) end
        return table.concat(parts, ":")
    end
end

local fixed_len = { [0] = 4, [1] = 16, [2] = 1, [3] = 2 }

-- Dissects one address at pos (must end by limit). Returns next pos or nil.
local function dissect_addr(tvb, tree, pinfo, which, ty, pos, limit)
    local f = F
    local off, len
    if ty == 4 then
        if pos >= limit then malformed(tree, pinfo, "addr-length"); return nil end
        len = tvb(pos, 1):uint()
        tree:add(which == "src" and f.src_flex_len or f.dst_flex_len, tvb(pos, 1))
        if len == 0 or len > 32 then malformed(tree, pinfo, "flex-length"); return nil end
        off = pos + 1
    else
        off, len = pos, fixed_len[ty]
    end
    if off + len > limit then malformed(tree, pinfo, "addr-length"); return nil end
    local text = addr_text(tvb, ty, off, len)
    tree:add(which == "src" and f.src_addr or f.dst_addr, tvb(off, len), text)
    local typed
    if ty == 0 then typed = which == "src" and f.src_ipv4 or f.dst_ipv4
    elseif ty == 1 then typed = which == "src" and f.src_ipv6 or f.dst_ipv6
    elseif ty == 2 then typed = which == "src" and f.src_8bit or f.dst_8bit
    elseif ty == 3 then typed = which == "src" and f.src_16bit or f.dst_16bit
    else typed = which == "src" and f.src_flex or f.dst_flex end
    tree:add(typed, tvb(off, len))
    return off + len, text
end

-- Adds the 16 bytes of a precise-LBF value at off.
local function add_plbf(tvb, tree, off)
    tree:add(F.plbf_min, tvb(off, 4))
    tree:add(F.plbf_max, tvb(off + 4, 4))
    tree:add(F.plbf_exp, tvb(off + 8, 4))
    tree:add(F.plbf_hops, tvb(off + 12, 2))
    local ft = tree:add(F.plbf_flags, tvb(off + 14, 2))
    ft:add(F.plbf_late_ok, tvb(off + 14, 2))
end

-- Dissects the contract at pos (area ends at po, payload has plen bytes).
-- Returns the next position, or nil when malformed.
local function dissect_contract(tvb, tree, pinfo, pos, po, plen, payload_start)
    if pos + 2 > po then malformed(tree, pinfo, "contract-truncated"); return nil end
    local ty = tvb(pos, 2):uint()
    local size
    if ty == 1 then size = 6 elseif ty == 2 then size = 12 elseif ty == 3 then size = 14
    elseif ty >= 0x8000 then
        if pos + 4 > po then malformed(tree, pinfo, "contract-truncated"); return nil end
        size = 4 + tvb(pos + 2, 2):uint()
        if pos + size > po then malformed(tree, pinfo, "tlv-length"); return nil end
    else
        malformed(tree, pinfo, "contract-unknown"); return nil
    end
    if pos + size > po then malformed(tree, pinfo, "contract-truncated"); return nil end
    local name = contract_types[ty] or string.format("Unknown TLV 0x%04x", ty)
    local ct = tree:add(F.contract, tvb(pos, size))
    ct:set_text("Contract: " .. name)
    ct:add(F.contract_type, tvb(pos, 2))
    if ty == 1 then
        ct:add(F.mdf_max, tvb(pos + 2, 2))
        ct:add(F.mdf_exp, tvb(pos + 4, 2))
    elseif ty == 2 then
        ct:add(F.lbf_min, tvb(pos + 2, 2))
        ct:add(F.lbf_max, tvb(pos + 4, 2))
        ct:add(F.lbf_exp, tvb(pos + 6, 2))
        ct:add(F.lbf_todelay, tvb(pos + 8, 2))
        ct:add(F.lbf_tohops, tvb(pos + 10, 2))
    elseif ty == 3 then
        ct:add(F.ping_code, tvb(pos + 2, 2))
        ct:add(F.ping_hops, tvb(pos + 4, 2))
        ct:add(F.ping_ts, tvb(pos + 6, 8))
    else
        local len = size - 4
        local val = pos + 4
        ct:add(F.contract_length, tvb(pos + 2, 2))
        if ty == 0x8001 then
            if len ~= 16 then malformed(ct, pinfo, "tlv-length"); return nil end
            add_plbf(tvb, ct, val)
        elseif ty == 0x8002 then
            if len ~= 8 then malformed(ct, pinfo, "tlv-length"); return nil end
            ct:add(F.ot_damper, tvb(val, 4))
            ct:add(F.ot_prio, tvb(val + 4, 1))
            local ft = ct:add(F.ot_flags, tvb(val + 5, 1))
            ft:add(F.ot_di, tvb(val + 5, 1))
            ft:add(F.ot_ds, tvb(val + 5, 1))
            ct:add(F.ot_reserved, tvb(val + 6, 2))
        elseif ty == 0x8003 then
            if len < 4 then malformed(ct, pinfo, "tlv-length"); return nil end
            local count = tvb(val, 1):uint()
            if len ~= 4 + 6 * count then malformed(ct, pinfo, "tlv-length"); return nil end
            ct:add(F.qual_count, tvb(val, 1))
            ct:add(F.qual_reserved, tvb(val + 1, 3))
            local prev_end = 0
            for i = 0, count - 1 do
                local e = val + 4 + 6 * i
                local co = tvb(e, 2):uint()
                local cl = tvb(e + 2, 2):uint()
                local sig = tvb(e + 4, 1):uint()
                local flags = tvb(e + 5, 1):uint()
                local washed = (flags % 2) == 1
                local chn = ct:add(F.qual_chunk, tvb(e, 6))
                chn:set_text(string.format("Chunk %d: offset %d, length %d, significance %d%s",
                    i, co, cl, sig, washed and ", washed" or ""))
                chn:add(F.qual_chunk_offset, tvb(e, 2))
                chn:add(F.qual_chunk_length, tvb(e + 2, 2))
                chn:add(F.qual_chunk_sig, tvb(e + 4, 1))
                local ft = chn:add(F.qual_chunk_flags, tvb(e + 5, 1))
                ft:add(F.qual_chunk_washed, tvb(e + 5, 1))
                if co < prev_end or co + cl > plen then
                    malformed(chn, pinfo, "chunks"); return nil
                end
                if cl > 0 then chn:add(F.qual_chunk_data, tvb(payload_start + co, cl)) end
                prev_end = co + cl
            end
        else
            ct:add(F.contract_unknown, tvb(pos, 2), true)
            if len > 0 then ct:add(F.contract_value, tvb(val, len)) end
        end
    end
    return pos + size
end

function newip.dissector(tvb, pinfo, tree)
    local n = tvb:len()
    pinfo.cols.protocol = "NewIP"
    local t = tree:add(newip, tvb())
    if n < 3 then malformed(t, pinfo, "truncated"); return n end
    local so = tvb(0, 1):uint()
    local co = tvb(1, 1):uint()
    local po = tvb(2, 1):uint()
    t:add(F.shipping_offset, tvb(0, 1))
    t:add(F.contract_offset, tvb(1, 1))
    t:add(F.payload_offset, tvb(2, 1))
    if so < 3 or po > n or po < so or (co ~= 0 and (co <= so or co >= po)) then
        malformed(t, pinfo, "offsets"); return n
    end
    local limit = (co ~= 0) and co or po
    if so + 3 > limit then
        malformed(t, pinfo, (so + 3 > n) and "truncated" or "offsets"); return n
    end
    local st = tvb(so, 1):uint()
    local dt = tvb(so + 1, 1):uint()
    local cast = tvb(so + 2, 1):uint()
    local ship = t:add(tvb(so, limit - so), "Shipping spec")
    ship:add(F.src_type, tvb(so, 1))
    ship:add(F.dst_type, tvb(so + 1, 1))
    ship:add(F.cast, tvb(so + 2, 1))
    if st > 4 or dt > 4 then malformed(ship, pinfo, "addr-type"); return n end
    if cast > 4 then malformed(ship, pinfo, "cast"); return n end
    local pos, stext = dissect_addr(tvb, ship, pinfo, "src", st, so + 3, limit)
    if not pos then return n end
    local dtext
    pos, dtext = dissect_addr(tvb, ship, pinfo, "dst", dt, pos, limit)
    if not pos then return n end
    pinfo.cols.src = stext
    pinfo.cols.dst = dtext
    local info = string.format("%s -> %s (%s)", stext, dtext, casts[cast])
    local names = {}
    if co ~= 0 then
        local cs = t:add(tvb(co, po - co), "Contract spec")
        local p = co
        while p < po do
            local ty = (p + 2 <= po) and tvb(p, 2):uint() or nil
            p = dissect_contract(tvb, cs, pinfo, p, po, n - po, po)
            if not p then break end
            names[#names + 1] = contract_types[ty] or string.format("TLV 0x%04x", ty)
        end
    end
    if #names > 0 then info = info .. " [" .. table.concat(names, ", ") .. "]" end
    pinfo.cols.info = info
    t:append_text(", " .. info)
    if n > po then t:add(F.payload, tvb(po, n - po)) end
    return n
end

DissectorTable.get("ethertype"):add(0x88B6, newip)

-- Post-dissector for IPv6 Hop-by-Hop option 0x3E (the precise-LBF value in
-- plain IPv6). It finds the first IPv6 header via the ipv6.nxt field, walks
-- all Hop-by-Hop options itself (as newipd does) and adds a "New IP precise
-- LBF" tree with the same newip.plbf.* fields, plus an expert item named like
-- newipd's counter when the header is malformed.
local newip_hbh = Proto("newip_hbh", "New IP precise LBF in IPv6 Hop-by-Hop")
newip_hbh.fields = {}
local ipv6_nxt = Field.new("ipv6.nxt")

function newip_hbh.dissector(tvb, pinfo, tree)
    local nxts = { ipv6_nxt() }
    if #nxts == 0 then return end
    local fi = nxts[1]
    if fi.value ~= 0 then return end
    local ip = fi.offset - 6
    local n = tvb:len()
    if ip < 0 or ip + 42 > n then return end
    local plen = tvb(ip + 4, 2):uint()
    local limit = n
    if plen ~= 0 and ip + 40 + plen < limit then limit = ip + 40 + plen end
    local hbh = ip + 40
    local stop = hbh + (tvb(hbh + 1, 1):uint() + 1) * 8
    if stop > limit then return end
    -- Walk every option (as newipd does), remembering the first 0x3E.
    local found, err = nil, nil
    local p = hbh + 2
    while p < stop do
        local ty = tvb(p, 1):uint()
        if ty == 0 then
            p = p + 1
        else
            if p + 2 > stop then err = "malformed-hbh-option-length"; break end
            local len = tvb(p + 1, 1):uint()
            if p + 2 + len > stop then err = "malformed-hbh-option-length"; break end
            if ty == 0x3E then
                if len ~= 16 then
                    err = "malformed-hbh-plbf-length"
                    found = found or p
                    break
                end
                found = found or p
            end
            p = p + 2 + len
        end
    end
    if not found and not err then return end
    local t
    if found then
        local len = tvb(found + 1, 1):uint()
        t = tree:add(newip, tvb(found, 2 + len))
        t:set_text("New IP precise LBF (IPv6 Hop-by-Hop option 0x3E)")
        if len == 16 then
            t:add(F.hbh_value_offset, tvb(found + 2, 16), found + 2 - ip)
            add_plbf(tvb, t, found + 2)
        end
    else
        t = tree:add(newip, tvb(hbh, stop - hbh))
        t:set_text("New IP: IPv6 Hop-by-Hop header")
    end
    if err then t:add_proto_expert_info(E.hbh_malformed, err) end
end

register_postdissector(newip_hbh)
