// test_tcap.cpp — C++17 test suite for the tcap C ABI: the same header compiled as C++ (enums with a
// fixed uint32_t underlying type), every function and its error paths, checked with real assertions.
// Compiled with -std=c++17 -Wall -Wextra -Wpedantic -Werror (mk/ffi.mk); exits non-zero on failure.
#include "tcap.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <algorithm>
#include <cstddef>
#include <iterator>
#include <new>
#include <vector>

// The header's enums are real C++ enums of the ABI's width (the trap of `enum X` + `typedef uint32_t X`
// would not even compile here).
static_assert(std::is_enum_v<tcap_result>);
static_assert(std::is_same_v<std::underlying_type_t<tcap_result>, uint32_t>);
static_assert(std::is_same_v<std::underlying_type_t<tcap_risk>, uint32_t>);
static_assert(std::is_same_v<std::underlying_type_t<tcap_decision>, uint32_t>);
static_assert(std::is_same_v<std::underlying_type_t<tcap_node_state>, uint32_t>);
static_assert(sizeof(tcap_result) == 4 && sizeof(tcap_risk) == 4);
static_assert(TCAP_RESULT_OK == 0 && TCAP_RESULT_NULL_ARGUMENT == 100 && TCAP_RESULT_PANIC == 900);
static_assert(TCAP_VERSION_NUMBER == ((TCAP_VERSION_MAJOR << 16) | (TCAP_VERSION_MINOR << 8) | TCAP_VERSION_PATCH));

namespace {

unsigned passed = 0, failed = 0;

void check(bool ok, const char *what, int line) {
    if (ok) {
        ++passed;
    } else {
        ++failed;
        std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, line, what);
    }
}
#define CHECK(cond) check((cond), #cond, __LINE__)

// RAII-free by design: tcap owns nothing, so a C++ wrapper is only a thin error-to-string adapter.
std::string_view str(tcap_result rc) { return tcap_result_str(rc); }

constexpr std::array<tcap_result, 39> kResults = {
    TCAP_RESULT_OK,         TCAP_RESULT_NULL_ARGUMENT,  TCAP_RESULT_BUFFER_TOO_SMALL,
    TCAP_RESULT_MISALIGNED, TCAP_RESULT_INVALID_LENGTH, TCAP_RESULT_INVALID_ENUM,
    TCAP_RESULT_BAD_HANDLE, TCAP_RESULT_UNMAPPED_FLAGS, TCAP_RESULT_DESCRIPTOR_LENGTH,
    TCAP_RESULT_DESCRIPTOR_MAGIC, TCAP_RESULT_DESCRIPTOR_VERSION, TCAP_RESULT_DESCRIPTOR_CHECKSUM,
    TCAP_RESULT_DESCRIPTOR_FIELD_RANGE, TCAP_RESULT_IMAGE_TRUNCATED, TCAP_RESULT_IMAGE_MAGIC,
    TCAP_RESULT_IMAGE_VERSION, TCAP_RESULT_IMAGE_CHECKSUM, TCAP_RESULT_IMAGE_CORRUPT,
    TCAP_RESULT_NOT_FOUND, TCAP_RESULT_AGENT_OUT_OF_RANGE, TCAP_RESULT_AGENT_STATE_REJECTED,
    TCAP_RESULT_CONFIG_INVALID, TCAP_RESULT_POLICY_FAILS_OPEN, TCAP_RESULT_NODE_OUT_OF_RANGE,
    TCAP_RESULT_NO_ROUTE, TCAP_RESULT_SOURCE_BLOCKED, TCAP_RESULT_DESTINATION_BLOCKED,
    TCAP_RESULT_NETWORK_CAPACITY, TCAP_RESULT_EDGE_INVALID, TCAP_RESULT_EDGE_EXISTS,
    TCAP_RESULT_DEGREE_FULL, TCAP_RESULT_SELF_VOTE, TCAP_RESULT_VOTER_BLOCKED,
    TCAP_RESULT_ALREADY_VOTED, TCAP_RESULT_REPAIR_TASK_TAKEN, TCAP_RESULT_REPAIR_WORKER_BUSY,
    TCAP_RESULT_REPAIR_INDEX, TCAP_RESULT_PANIC, TCAP_RESULT_INTERNAL,
};
static_assert(TCAP_RESULT_DESCRIPTOR_CHECKSUM == 204 && TCAP_RESULT_IMAGE_CORRUPT == 304 &&
              TCAP_RESULT_AGENT_STATE_REJECTED == 401 && TCAP_RESULT_NO_ROUTE == 501);
static_assert(std::is_same_v<std::underlying_type_t<tcap_agent_status>, uint32_t>);
static_assert(std::is_same_v<std::underlying_type_t<tcap_flavour>, uint32_t>);
static_assert(std::is_same_v<std::underlying_type_t<tcap_vote_outcome>, uint32_t>);
static_assert(sizeof(tcap_verdict) == 24 && sizeof(tcap_config) == 88 && std::is_trivially_copyable_v<tcap_registry>);

template <typename T>
T *misaligned(T *aligned) {
    // Never dereferenced here; tcap must refuse it.
    return reinterpret_cast<T *>(reinterpret_cast<std::uintptr_t>(aligned) + 1);
}

uint32_t id_of(std::string_view name, tcap_result *rc_out) {
    uint32_t id = 0;
    *rc_out = tcap_command_id(reinterpret_cast<const uint8_t *>(name.data()), name.size(), &id);
    return id;
}

const uint8_t *bytes(std::string_view s) { return reinterpret_cast<const uint8_t *>(s.data()); }

uint32_t cmd(std::string_view name) {
    tcap_result rc = TCAP_RESULT_INTERNAL;
    return id_of(name, &rc);
}

// Caller-owned, aligned memory for tcap objects: tcap never allocates or frees; this owner does.
struct AlignedBuffer {
    explicit AlignedBuffer(std::size_t n) : size(n), data(new (std::align_val_t{64}) std::byte[n]{}) {}
    ~AlignedBuffer() { ::operator delete[](data, std::align_val_t{64}); }
    AlignedBuffer(const AlignedBuffer &) = delete;
    AlignedBuffer &operator=(const AlignedBuffer &) = delete;
    std::size_t size;
    std::byte *data;
};

tcap_verdict check_call(tcap_engine *e, uint64_t now, uint32_t agent, std::string_view name, tcap_result *rc) {
    tcap_verdict v{};
    *rc = tcap_engine_check(e, now, agent, cmd(name), &v);
    return v;
}

void test_registry_and_descriptor() {
    tcap_registry reg{}, copy_reg{}, junk{};
    CHECK(tcap_registry_builtin(&reg) == TCAP_RESULT_OK);
    CHECK(tcap_registry_builtin(nullptr) == TCAP_RESULT_NULL_ARGUMENT);
    std::size_t n = 0;
    CHECK(tcap_registry_len(&reg, &n) == TCAP_RESULT_OK && n > 100);
    CHECK(tcap_registry_len(&junk, &n) == TCAP_RESULT_BAD_HANDLE);
    const uint8_t *img = nullptr;
    std::size_t img_len = 0;
    CHECK(tcap_registry_image(&reg, &img, &img_len) == TCAP_RESULT_OK && img_len > 128);
    CHECK(tcap_registry_image(&reg, nullptr, &img_len) == TCAP_RESULT_NULL_ARGUMENT);
    std::vector<uint8_t> image(img, img + img_len);
    CHECK(tcap_registry_open(image.data(), image.size(), &copy_reg) == TCAP_RESULT_OK);
    // `image` must outlive `copy_reg` unmodified (the handle borrows it): break a copy instead.
    std::vector<uint8_t> scratch = image;
    CHECK(tcap_registry_open(scratch.data(), 100, &junk) == TCAP_RESULT_IMAGE_TRUNCATED);
    CHECK(tcap_registry_open(nullptr, 100, &junk) == TCAP_RESULT_NULL_ARGUMENT);
    scratch[1] ^= 0xff;
    CHECK(tcap_registry_open(scratch.data(), scratch.size(), &junk) == TCAP_RESULT_IMAGE_MAGIC);
    scratch[1] ^= 0xff;
    scratch[scratch.size() / 2] ^= 0x01;
    const tcap_result flipped = tcap_registry_open(scratch.data(), scratch.size(), &junk);
    CHECK(flipped == TCAP_RESULT_IMAGE_CHECKSUM);
    scratch[scratch.size() / 2] ^= 0x01;
    scratch.push_back(0);
    CHECK(tcap_registry_open(scratch.data(), scratch.size(), &junk) == TCAP_RESULT_IMAGE_CORRUPT);
    scratch.pop_back();
    scratch[8] = 1;  // format version 1, the previous layout: refused, not misread
    CHECK(tcap_registry_open(scratch.data(), scratch.size(), &junk) == TCAP_RESULT_IMAGE_VERSION);
    CHECK(tcap_registry_len(&junk, &n) == TCAP_RESULT_BAD_HANDLE);  // never written by the failures

    tcap_entry e{};
    CHECK(tcap_registry_lookup_name(&copy_reg, bytes("cat"), 3, &e) == TCAP_RESULT_OK);
    CHECK(e.id == 0xd077f244u && std::string_view(reinterpret_cast<const char *>(e.name), e.name_len) == "cat");
    tcap_entry by_id{};
    CHECK(tcap_registry_lookup_id(&reg, e.id, &by_id) == TCAP_RESULT_OK && by_id.flags == e.flags);
    CHECK(tcap_registry_lookup_id(&reg, 1, &by_id) == TCAP_RESULT_NOT_FOUND);
    CHECK(tcap_registry_lookup_name(&reg, bytes("cat"), 0, &by_id) == TCAP_RESULT_INVALID_LENGTH);
    CHECK(tcap_registry_lookup_name(&reg, bytes("cat"), 3, nullptr) == TCAP_RESULT_NULL_ARGUMENT);
    std::size_t matched = 0;
    constexpr std::string_view line = "cat /etc/passwd";
    CHECK(tcap_registry_resolve(&reg, bytes(line), line.size(), &e, &matched) == TCAP_RESULT_OK);
    CHECK(line.substr(matched) == " /etc/passwd");
    CHECK(tcap_registry_resolve(&reg, bytes("zzz-unknown"), 11, &e, &matched) == TCAP_RESULT_NOT_FOUND);
    CHECK(tcap_registry_resolve(&reg, bytes(line), line.size(), &e, nullptr) == TCAP_RESULT_NULL_ARGUMENT);

    // Descriptors: encode in every layout, decode back.
    tcap_descriptor d{0xd077f244u, 0x2u, 500u, 50, 26, 3};
    std::array<uint8_t, TCAP_DESCRIPTOR_LEN> out{};
    for (uint32_t f : {uint32_t{TCAP_FLAVOUR_SPEC}, uint32_t{TCAP_FLAVOUR_REGISTRY}, uint32_t{TCAP_FLAVOUR_KNOWLEDGE_BASE}}) {
        CHECK(tcap_descriptor_encode(&d, f, out.data()) == TCAP_RESULT_OK);
        tcap_descriptor back{};
        tcap_flavour got{};
        CHECK(tcap_descriptor_decode(out.data(), out.size(), f, &back, &got) == TCAP_RESULT_OK);
        CHECK(static_cast<uint32_t>(got) == f && back.command_id == d.command_id && back.flags == d.flags);
        CHECK(back.command_len == (f == TCAP_FLAVOUR_SPEC ? 3u : TCAP_COMMAND_LEN_UNKNOWN));
    }
    tcap_descriptor back{};
    tcap_flavour got{};
    CHECK(tcap_descriptor_decode(out.data(), 23, TCAP_FLAVOUR_HINT_NONE, &back, &got) == TCAP_RESULT_DESCRIPTOR_LENGTH);
    out[22] ^= 0x10;
    CHECK(tcap_descriptor_decode(out.data(), 24, TCAP_FLAVOUR_HINT_NONE, &back, &got) == TCAP_RESULT_DESCRIPTOR_CHECKSUM);
    out[0] = 'U';
    CHECK(tcap_descriptor_decode(out.data(), 24, TCAP_FLAVOUR_HINT_NONE, &back, &got) == TCAP_RESULT_DESCRIPTOR_MAGIC);
    out[0] = 'T';
    out[5] = 1;
    CHECK(tcap_descriptor_decode(out.data(), 24, TCAP_FLAVOUR_HINT_NONE, &back, &got) == TCAP_RESULT_DESCRIPTOR_VERSION);
    CHECK(tcap_descriptor_decode(out.data(), 24, 9, &back, &got) == TCAP_RESULT_INVALID_ENUM);
    CHECK(tcap_descriptor_decode(out.data(), 24, TCAP_FLAVOUR_HINT_NONE, nullptr, &got) == TCAP_RESULT_NULL_ARGUMENT);
    d.exec_time_ms = 1u << 20;
    CHECK(tcap_descriptor_encode(&d, TCAP_FLAVOUR_SPEC, out.data()) == TCAP_RESULT_DESCRIPTOR_FIELD_RANGE);
    d.flags |= TCAP_FLAG_CONTAINER_ESCAPE;
    CHECK(tcap_descriptor_encode(&d, TCAP_FLAVOUR_KNOWLEDGE_BASE, out.data()) == TCAP_RESULT_UNMAPPED_FLAGS);
    CHECK(tcap_descriptor_encode(&d, 3, out.data()) == TCAP_RESULT_INVALID_ENUM);
    CHECK(tcap_descriptor_encode(nullptr, 0, out.data()) == TCAP_RESULT_NULL_ARGUMENT);
}

void test_engine_and_network() {
    tcap_registry reg{};
    CHECK(tcap_registry_builtin(&reg) == TCAP_RESULT_OK);
    tcap_config cfg{};
    CHECK(tcap_config_default(&cfg) == TCAP_RESULT_OK && cfg.struct_size == sizeof cfg);
    cfg.warmup_calls = 4;
    cfg.warmup_outcomes = 2;
    cfg.up_q16[0] = 2 << 16, cfg.up_q16[1] = 4 << 16, cfg.up_q16[2] = 6 << 16;
    cfg.down_q16[0] = 1 << 16, cfg.down_q16[1] = 3 << 16, cfg.down_q16[2] = 5 << 16;
    cfg.window = 1; // every call's behaviour judged at once: the script follows the status call by call
    std::size_t size = 0;
    CHECK(tcap_engine_size(3, &size) == TCAP_RESULT_OK);
    CHECK(tcap_engine_size(0, &size) == TCAP_RESULT_INVALID_LENGTH);
    AlignedBuffer mem(size + 64);
    tcap_engine *e = nullptr;
    CHECK(tcap_engine_init(mem.data + 1, size, 3, &reg, &cfg, &e) == TCAP_RESULT_MISALIGNED);
    CHECK(tcap_engine_init(mem.data, size - 64, 3, &reg, &cfg, &e) == TCAP_RESULT_BUFFER_TOO_SMALL);
    tcap_config bad = cfg;
    bad.policy[TCAP_RISK_UNKNOWN * 4 + 3] = TCAP_DECISION_ALLOW;
    CHECK(tcap_engine_init(mem.data, size, 3, &reg, &bad, &e) == TCAP_RESULT_POLICY_FAILS_OPEN);
    bad = cfg;
    bad.up_q16[2] = bad.up_q16[1];
    CHECK(tcap_engine_init(mem.data, size, 3, &reg, &bad, &e) == TCAP_RESULT_CONFIG_INVALID);
    CHECK(e == nullptr);
    CHECK(tcap_engine_init(mem.data, size, 3, &reg, nullptr, &e) == TCAP_RESULT_OK && e != nullptr);
    CHECK(tcap_engine_init(mem.data, size, 3, &reg, &cfg, &e) == TCAP_RESULT_OK);  // re-init: fresh engine

    tcap_result rc = TCAP_RESULT_INTERNAL;
    tcap_verdict v = check_call(e, 10, 0, "grep", &rc);
    CHECK(rc == TCAP_RESULT_OK && v.decision == TCAP_DECISION_ALLOW && v.risk == TCAP_RISK_LOW);
    v = check_call(e, 20, 0, "zz-not-a-tool", &rc);
    CHECK(rc == TCAP_RESULT_OK && v.decision != TCAP_DECISION_ALLOW && (v.reasons & TCAP_REASON_UNKNOWN_COMMAND));
    check_call(e, 30, 3, "cat", &rc);
    CHECK(rc == TCAP_RESULT_AGENT_OUT_OF_RANGE);
    CHECK(tcap_engine_check_name(e, 40, 0, bytes("ls"), 2, &v) == TCAP_RESULT_OK && v.risk == TCAP_RISK_SAFE);
    CHECK(tcap_engine_check_name(e, 40, 0, bytes("ls"), 0, &v) == TCAP_RESULT_INVALID_LENGTH);
    CHECK(tcap_engine_observe(e, 50, 0, TCAP_OUTCOME_ERROR) == TCAP_RESULT_OK);
    CHECK(tcap_engine_observe(e, 50, 0, 17) == TCAP_RESULT_INVALID_ENUM);

    // Drive agent 1 to quarantine with destructive calls and denials.
    uint64_t now = 1'000'000;
    for (auto name : {"ls", "cat", "ls", "grep", "ls", "cat"}) {
        now += 2'000'000;
        check_call(e, now, 1, name, &rc);
    }
    for (auto name : {"rm", "dd", "sudo", "mkfs", "rm", "shred", "dd", "chmod", "rm", "sudo", "kill", "rm", "dd",
                      "mkfs", "rm", "sudo"}) {
        now += 100'000;
        v = check_call(e, now, 1, name, &rc);
        CHECK(rc == TCAP_RESULT_OK && v.decision >= TCAP_DECISION_REQUIRE_APPROVAL);
        CHECK(tcap_engine_observe(e, now + 1, 1, TCAP_OUTCOME_DENIED) == TCAP_RESULT_OK);
    }
    CHECK(v.agent_state == TCAP_AGENT_STATUS_QUARANTINED);
    CHECK(std::string_view(tcap_agent_status_name(v.agent_state)) == "quarantined");

    std::array<uint8_t, TCAP_AGENT_STATE_SIZE> snap{}, back{};
    CHECK(tcap_engine_agent_export(e, 1, snap.data()) == TCAP_RESULT_OK);
    CHECK(tcap_engine_agent_import(e, 2, snap.data()) == TCAP_RESULT_OK);
    CHECK(tcap_engine_agent_export(e, 2, back.data()) == TCAP_RESULT_OK && back == snap);
    v = check_call(e, now + 5, 2, "ls", &rc);
    CHECK(rc == TCAP_RESULT_OK && v.decision == TCAP_DECISION_QUARANTINE);  // the snapshot carried the status
    std::array<uint8_t, TCAP_AGENT_STATE_SIZE> corrupt = snap;
    corrupt[55] = 200;  // status
    CHECK(tcap_engine_agent_import(e, 0, corrupt.data()) == TCAP_RESULT_AGENT_STATE_REJECTED);
    CHECK(tcap_engine_agent_import(e, 3, snap.data()) == TCAP_RESULT_AGENT_OUT_OF_RANGE);
    CHECK(tcap_engine_agent_export(e, 3, back.data()) == TCAP_RESULT_AGENT_OUT_OF_RANGE);
    CHECK(tcap_engine_agent_export(nullptr, 0, back.data()) == TCAP_RESULT_NULL_ARGUMENT);

    std::array<uint8_t, TCAP_POLICY_LEN> codes{};
    std::copy(std::begin(cfg.policy), std::end(cfg.policy), codes.begin());
    codes[TCAP_RISK_LOW * 4] = TCAP_DECISION_CAUTION;
    CHECK(tcap_engine_set_policy(e, codes.data()) == TCAP_RESULT_OK);
    v = check_call(e, now + 6, 0, "grep", &rc);
    CHECK(v.decision == TCAP_DECISION_CAUTION);
    codes[TCAP_RISK_UNKNOWN * 4] = TCAP_DECISION_ALLOW;
    CHECK(tcap_engine_set_policy(e, codes.data()) == TCAP_RESULT_POLICY_FAILS_OPEN);

    // Network: a triangle; node 0 quarantined by an operator; the engine consults it.
    std::size_t nsize = 0;
    CHECK(tcap_network_size(3, &nsize) == TCAP_RESULT_OK);
    CHECK(tcap_network_size(TCAP_NETWORK_MAX_NODES + 1, &nsize) == TCAP_RESULT_NETWORK_CAPACITY);
    CHECK(tcap_network_size(3, &nsize) == TCAP_RESULT_OK);
    AlignedBuffer nmem(nsize);
    tcap_network *net = nullptr;
    CHECK(tcap_network_init(nmem.data, nsize - 1, 3, &net) == TCAP_RESULT_BUFFER_TOO_SMALL);
    CHECK(tcap_network_init(nmem.data, nsize, 3, &net) == TCAP_RESULT_OK);
    CHECK(tcap_network_add_edge(net, 0, 1, 1) == TCAP_RESULT_OK);
    CHECK(tcap_network_add_edge(net, 1, 2, 1) == TCAP_RESULT_OK);
    CHECK(tcap_network_add_edge(net, 1, 2, 1) == TCAP_RESULT_EDGE_EXISTS);
    CHECK(tcap_network_add_edge(net, 1, 1, 1) == TCAP_RESULT_EDGE_INVALID);
    uint32_t hop = 0;
    CHECK(tcap_network_route(net, 0, 2, &hop) == TCAP_RESULT_OK && hop == 1);
    tcap_node_state st{};
    CHECK(tcap_network_report_anomaly(net, now, 2, 1000, &st) == TCAP_RESULT_OK && st == TCAP_NODE_STATE_HEALTHY);
    CHECK(tcap_network_set_state(net, now, 1, TCAP_NODE_STATE_ISOLATED) == TCAP_RESULT_OK);
    CHECK(tcap_network_route(net, 0, 2, &hop) == TCAP_RESULT_NO_ROUTE);
    CHECK(tcap_network_route(net, 1, 2, &hop) == TCAP_RESULT_SOURCE_BLOCKED);
    CHECK(tcap_network_route(net, 0, 1, &hop) == TCAP_RESULT_DESTINATION_BLOCKED);
    CHECK(tcap_network_route(net, 0, 3, &hop) == TCAP_RESULT_NODE_OUT_OF_RANGE);
    CHECK(tcap_network_node_state(net, 1, &st) == TCAP_RESULT_OK && st == TCAP_NODE_STATE_ISOLATED);
    tcap_vote_outcome vo{};
    CHECK(tcap_network_vote(net, now, 1, 0, true, &vo) == TCAP_RESULT_VOTER_BLOCKED);
    CHECK(tcap_network_vote(net, now, 2, 0, true, &vo) == TCAP_RESULT_OK && vo == TCAP_VOTE_OUTCOME_CONVICTED);
    CHECK(tcap_engine_attach_network(e, net) == TCAP_RESULT_OK);
    v = check_call(e, now + 7, 0, "cat", &rc);
    CHECK(rc == TCAP_RESULT_OK && v.decision == TCAP_DECISION_QUARANTINE && v.net_state == TCAP_NODE_STATE_ISOLATED);
    CHECK(tcap_engine_detach_network(e) == TCAP_RESULT_OK);
    v = check_call(e, now + 8, 0, "cat", &rc);
    CHECK(rc == TCAP_RESULT_OK && v.net_state == TCAP_NODE_STATE_HEALTHY);
    CHECK(tcap_engine_attach_network(e, nullptr) == TCAP_RESULT_NULL_ARGUMENT);
}

}  // namespace

int main() {
    // Version: header vs library.
    CHECK(std::string_view(tcap_version()) == TCAP_VERSION_STRING);
    CHECK(tcap_version_number() == TCAP_VERSION_NUMBER);

    // Results: every code has its own message, unknown numbers share one.
    const std::string_view unknown = tcap_result_str(12345);
    for (std::size_t i = 0; i < kResults.size(); ++i) {
        CHECK(!str(kResults[i]).empty() && str(kResults[i]) != unknown);
        for (std::size_t j = i + 1; j < kResults.size(); ++j) CHECK(str(kResults[i]) != str(kResults[j]));
    }
    unsigned with_message = 0;
    for (uint32_t n = 0; n < 1100; ++n) with_message += std::string_view(tcap_result_str(n)) != unknown;
    CHECK(with_message == kResults.size());

    // Names.
    CHECK(std::string_view(tcap_risk_name(TCAP_RISK_CRITICAL)) == "CRITICAL");
    CHECK(std::string_view(tcap_risk_name(TCAP_RISK_UNKNOWN)) == "UNKNOWN");
    CHECK(std::string_view(tcap_risk_name(99)) == "invalid");
    CHECK(std::string_view(tcap_decision_name(TCAP_DECISION_REQUIRE_APPROVAL)) == "require_approval");
    CHECK(std::string_view(tcap_decision_name(99)) == "invalid");
    CHECK(std::string_view(tcap_node_state_name(TCAP_NODE_STATE_ISOLATED)) == "isolated");
    CHECK(std::string_view(tcap_node_state_name(99)) == "invalid");
    bool blocked = false;
    CHECK(tcap_node_state_is_blocked(TCAP_NODE_STATE_QUARANTINED, &blocked) == TCAP_RESULT_OK && blocked);
    CHECK(tcap_node_state_is_blocked(TCAP_NODE_STATE_RECOVERING, &blocked) == TCAP_RESULT_OK && !blocked);
    CHECK(tcap_node_state_is_blocked(7, &blocked) == TCAP_RESULT_INVALID_ENUM && !blocked);
    CHECK(tcap_node_state_is_blocked(0, nullptr) == TCAP_RESULT_NULL_ARGUMENT);

    // Command ids (from real upstream descriptors) and their errors.
    tcap_result rc = TCAP_RESULT_INTERNAL;
    CHECK(id_of("rm", &rc) == 0xd67f249bu && rc == TCAP_RESULT_OK);
    CHECK(id_of("cat", &rc) == 0xd077f244u && rc == TCAP_RESULT_OK);
    CHECK(id_of("ls", &rc) == 0x44ba5ca6u && rc == TCAP_RESULT_OK);
    CHECK(id_of(std::string_view("rm\0", 3), &rc) != 0xd67f249bu && rc == TCAP_RESULT_OK);
    id_of("", &rc);
    CHECK(rc == TCAP_RESULT_INVALID_LENGTH);
    uint32_t id = 42;
    CHECK(tcap_command_id(nullptr, 2, &id) == TCAP_RESULT_NULL_ARGUMENT && id == 42);
    CHECK(tcap_command_id(reinterpret_cast<const uint8_t *>("rm"), SIZE_MAX, &id) == TCAP_RESULT_INVALID_LENGTH);
    CHECK(tcap_command_id(reinterpret_cast<const uint8_t *>("rm"), 2, nullptr) == TCAP_RESULT_NULL_ARGUMENT);
    std::array<uint32_t, 2> slots{};
    CHECK(tcap_command_id(reinterpret_cast<const uint8_t *>("rm"), 2, misaligned(slots.data())) ==
          TCAP_RESULT_MISALIGNED);
    CHECK(slots[0] == 0 && slots[1] == 0 && id == 42);

    // Flags and risk.
    CHECK(tcap_flags_risk(0x6d0) == TCAP_RISK_CRITICAL);
    CHECK(tcap_flags_risk(0) == TCAP_RISK_UNKNOWN);
    CHECK(tcap_kb_flags_risk(0x1704) == TCAP_RISK_MEDIUM);
    uint32_t canon = 0, kb = 0;
    CHECK(tcap_kb_flags_to_canonical(0x1704, &canon) == TCAP_RESULT_OK);
    CHECK(tcap_flags_risk(canon) == TCAP_RISK_MEDIUM && (canon & TCAP_FLAG_REQUIRES_SUDO) != 0);
    CHECK(tcap_flags_to_kb(canon, &kb) == TCAP_RESULT_OK && kb == 0x1704);
    CHECK(tcap_kb_flags_to_canonical(1u << 14, &canon) == TCAP_RESULT_UNMAPPED_FLAGS);
    CHECK(tcap_flags_to_kb(TCAP_FLAG_CONTAINER_ESCAPE, &kb) == TCAP_RESULT_UNMAPPED_FLAGS && kb == 0x1704);
    CHECK(tcap_kb_flags_to_canonical(0, nullptr) == TCAP_RESULT_NULL_ARGUMENT);
    CHECK(tcap_flags_to_kb(0, nullptr) == TCAP_RESULT_NULL_ARGUMENT);
    CHECK(tcap_flags_to_kb(0, misaligned(slots.data())) == TCAP_RESULT_MISALIGNED);

    // Formatting into a caller buffer.
    std::array<char, TCAP_FLAGS_FORMAT_MAX> buf{};
    std::size_t n = 0;
    CHECK(tcap_flags_format(0x2, buf.data(), buf.size(), &n) == TCAP_RESULT_OK);
    CHECK(std::string_view(buf.data(), n) == "0x00000002 [LOW_RISK]" && buf[n] == '\0');
    std::array<char, 8> tiny{};
    tiny.fill('Z');
    CHECK(tcap_flags_format(0x2, tiny.data(), tiny.size(), &n) == TCAP_RESULT_BUFFER_TOO_SMALL);
    CHECK(tiny[0] == 'Z' && tiny[7] == 'Z' && n == 21);
    CHECK(tcap_flags_format(0x2, nullptr, 64, &n) == TCAP_RESULT_NULL_ARGUMENT);
    CHECK(tcap_flags_format(0x2, buf.data(), buf.size(), nullptr) == TCAP_RESULT_NULL_ARGUMENT);
    CHECK(tcap_flags_format(0x2, buf.data(), SIZE_MAX, &n) == TCAP_RESULT_INVALID_LENGTH);
    std::array<std::size_t, 2> sz{};
    CHECK(tcap_flags_format(0x2, buf.data(), buf.size(), misaligned(sz.data())) == TCAP_RESULT_MISALIGNED);

    test_registry_and_descriptor();
    test_engine_and_network();

    std::printf("tcap C++17 client against library %s\n", tcap_version());
    std::printf("cpp17: %u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
