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

constexpr std::array<tcap_result, 10> kResults = {
    TCAP_RESULT_OK,         TCAP_RESULT_NULL_ARGUMENT,  TCAP_RESULT_BUFFER_TOO_SMALL,
    TCAP_RESULT_MISALIGNED, TCAP_RESULT_INVALID_LENGTH, TCAP_RESULT_INVALID_ENUM,
    TCAP_RESULT_BAD_HANDLE, TCAP_RESULT_UNMAPPED_FLAGS, TCAP_RESULT_PANIC,
    TCAP_RESULT_INTERNAL,
};

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

    std::printf("tcap C++17 client against library %s\n", tcap_version());
    std::printf("cpp17: %u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
