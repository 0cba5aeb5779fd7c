/* test_tcap.c — C11 test suite for the tcap C ABI. Exercises every function and every error path.
 * Compiled with -std=c11 -Wall -Wextra -Wpedantic -Werror; run linked statically, dynamically, under
 * ASan+UBSan and under valgrind (mk/ffi.mk). Exits non-zero if any check fails. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tcap.h"

/* The ABI's enums are 32-bit in C as in C++. */
_Static_assert(sizeof(tcap_result) == 4, "tcap_result is 32 bits");
_Static_assert(sizeof(tcap_risk) == 4 && sizeof(tcap_decision) == 4 && sizeof(tcap_node_state) == 4,
               "tcap enums are 32 bits");
_Static_assert(TCAP_RESULT_OK == 0, "success is 0");

static unsigned passed, failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            passed++;                                                                \
        } else {                                                                     \
            failed++;                                                                \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
        }                                                                            \
    } while (0)

#define CHECK_RC(expr, want)                                                         \
    do {                                                                             \
        tcap_result rc_ = (expr);                                                    \
        if (rc_ == (want)) {                                                         \
            passed++;                                                                \
        } else {                                                                     \
            failed++;                                                                \
            fprintf(stderr, "FAIL %s:%d: %s = %u (%s), want %u\n", __FILE__, __LINE__, \
                    #expr, (unsigned)rc_, tcap_result_str(rc_), (unsigned)(want));   \
        }                                                                            \
    } while (0)

#define STREQ(a, b) (strcmp((a), (b)) == 0)

/* Every result code in the header. Adding a code without listing it here fails the count check below. */
static const uint32_t all_results[] = {
    TCAP_RESULT_OK,           TCAP_RESULT_NULL_ARGUMENT, TCAP_RESULT_BUFFER_TOO_SMALL,
    TCAP_RESULT_MISALIGNED,   TCAP_RESULT_INVALID_LENGTH, TCAP_RESULT_INVALID_ENUM,
    TCAP_RESULT_BAD_HANDLE,   TCAP_RESULT_UNMAPPED_FLAGS, TCAP_RESULT_PANIC,
    TCAP_RESULT_INTERNAL,
};
#define N_RESULTS (sizeof all_results / sizeof all_results[0])

/* A pointer one byte past an aligned address: never dereferenced here, only handed to tcap, which must
 * refuse it. Made through an integer (implementation-defined, not undefined, in C11 6.3.2.3p5). */
static void *misaligned(void *aligned) { return (void *)((uintptr_t)aligned + 1); }

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void hex_decode(const char *hex, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static void test_version(void) {
    CHECK(STREQ(tcap_version(), TCAP_VERSION_STRING));
    CHECK(tcap_version_number() == TCAP_VERSION_NUMBER);
    CHECK(TCAP_VERSION_NUMBER ==
          ((TCAP_VERSION_MAJOR << 16) | (TCAP_VERSION_MINOR << 8) | TCAP_VERSION_PATCH));
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", TCAP_VERSION_MAJOR, TCAP_VERSION_MINOR, TCAP_VERSION_PATCH);
    CHECK(STREQ(buf, TCAP_VERSION_STRING));
}

static void test_result_str(void) {
    const char *unknown = tcap_result_str(UINT32_MAX);
    CHECK(unknown != NULL && unknown[0] != '\0');
    unsigned known = 0;
    for (size_t i = 0; i < N_RESULTS; i++) {
        const char *s = tcap_result_str(all_results[i]);
        CHECK(s != NULL && s[0] != '\0');
        CHECK(!STREQ(s, unknown));
        CHECK(all_results[i] == 0 || (all_results[i] >= 100 && all_results[i] < 1000));
        for (size_t j = i + 1; j < N_RESULTS; j++) {
            CHECK(!STREQ(s, tcap_result_str(all_results[j])));
        }
    }
    /* No number outside the list has a message: the list above is complete. */
    for (uint32_t n = 0; n < 1100; n++) {
        if (!STREQ(tcap_result_str(n), unknown)) {
            known++;
        }
    }
    CHECK(known == N_RESULTS);
}

static void test_names(void) {
    static const char *const risks[] = {"SAFE", "LOW_RISK", "MEDIUM_RISK", "HIGH_RISK", "CRITICAL", "UNKNOWN"};
    static const char *const decisions[] = {"allow", "caution", "require_approval", "deny", "quarantine"};
    static const char *const states[] = {"healthy", "suspicious", "quarantined", "isolated", "recovering"};
    for (uint32_t i = 0; i < 6; i++) CHECK(STREQ(tcap_risk_name(i), risks[i]));
    for (uint32_t i = 0; i < 5; i++) CHECK(STREQ(tcap_decision_name(i), decisions[i]));
    for (uint32_t i = 0; i < 5; i++) CHECK(STREQ(tcap_node_state_name(i), states[i]));
    CHECK(TCAP_RISK_CRITICAL == 4 && TCAP_RISK_UNKNOWN == 5);
    CHECK(TCAP_DECISION_QUARANTINE == 4 && TCAP_NODE_STATE_RECOVERING == 4);
    /* Out of range: a static "invalid", never NULL. */
    CHECK(STREQ(tcap_risk_name(6), "invalid"));
    CHECK(STREQ(tcap_risk_name(UINT32_MAX), "invalid"));
    CHECK(STREQ(tcap_decision_name(5), "invalid"));
    CHECK(STREQ(tcap_node_state_name(5), "invalid"));

    for (uint32_t s = 0; s < 5; s++) {
        bool blocked = true;
        CHECK_RC(tcap_node_state_is_blocked(s, &blocked), TCAP_RESULT_OK);
        CHECK(blocked == (s == TCAP_NODE_STATE_QUARANTINED || s == TCAP_NODE_STATE_ISOLATED));
    }
    bool b = true;
    CHECK_RC(tcap_node_state_is_blocked(5, &b), TCAP_RESULT_INVALID_ENUM);
    CHECK(b == true);
    CHECK_RC(tcap_node_state_is_blocked(0, NULL), TCAP_RESULT_NULL_ARGUMENT);
    /* bool has alignment 1 on every ABI we target, so there is no misaligned bool to test. */
}

static void test_command_id(void) {
    /* Real descriptors: `rm` and `cat` in the spec layout, `ls` in the knowledge-base layout. */
    static const struct {
        const char *name;
        const char *hex;
        uint32_t risk;
        int kb;
    } descs[] = {
        {"rm", "544350020002d67f249b000006d0271003e800320002ef04", TCAP_RISK_CRITICAL, 0},
        {"cat", "544350020002d077f2440000000201f40032001a00032048", TCAP_RISK_LOW, 0},
        {"rm", "544350020002d67f249b0000170400000064000a00010389", TCAP_RISK_MEDIUM, 1},
        {"ls", "54435002000244ba5ca60000050100000064000a00010360", TCAP_RISK_SAFE, 1},
    };
    for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++) {
        uint8_t d[24];
        hex_decode(descs[i].hex, d, sizeof d);
        uint32_t id = 0;
        CHECK_RC(tcap_command_id((const uint8_t *)descs[i].name, strlen(descs[i].name), &id), TCAP_RESULT_OK);
        CHECK(id == be32(d + 6));
        uint32_t flags = be32(d + 10);
        if (descs[i].kb) {
            CHECK(tcap_kb_flags_risk(flags) == descs[i].risk);
            uint32_t canon = 0, back = 0;
            CHECK_RC(tcap_kb_flags_to_canonical(flags, &canon), TCAP_RESULT_OK);
            CHECK(tcap_flags_risk(canon) == descs[i].risk);
            CHECK_RC(tcap_flags_to_kb(canon, &back), TCAP_RESULT_OK);
            CHECK(back == flags);
        } else {
            CHECK(tcap_flags_risk(flags) == descs[i].risk);
        }
    }
    uint32_t id = 0;
    CHECK_RC(tcap_command_id((const uint8_t *)"!", 1, &id), TCAP_RESULT_OK);
    CHECK(id == 0x9033e0e3u);
    /* Lengths are bytes, not C strings: an embedded NUL is hashed. */
    uint32_t a = 0, b = 0;
    CHECK_RC(tcap_command_id((const uint8_t *)"rm\0x", 4, &a), TCAP_RESULT_OK);
    CHECK_RC(tcap_command_id((const uint8_t *)"rm", 2, &b), TCAP_RESULT_OK);
    CHECK(a != b);
    /* No normalisation. */
    CHECK_RC(tcap_command_id((const uint8_t *)"RM", 2, &a), TCAP_RESULT_OK);
    CHECK(a != b);

    /* Error paths; the output keeps its value. */
    id = 0x12345678u;
    CHECK_RC(tcap_command_id(NULL, 2, &id), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_command_id(NULL, 0, &id), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_command_id((const uint8_t *)"rm", 0, &id), TCAP_RESULT_INVALID_LENGTH);
    CHECK_RC(tcap_command_id((const uint8_t *)"rm", SIZE_MAX, &id), TCAP_RESULT_INVALID_LENGTH);
    CHECK_RC(tcap_command_id((const uint8_t *)"rm", 2, NULL), TCAP_RESULT_NULL_ARGUMENT);
    uint32_t slots[2] = {0, 0};
    CHECK_RC(tcap_command_id((const uint8_t *)"rm", 2, (uint32_t *)misaligned(slots)), TCAP_RESULT_MISALIGNED);
    CHECK(slots[0] == 0 && slots[1] == 0);
    CHECK(id == 0x12345678u);
}

static void test_flags(void) {
    CHECK(tcap_flags_risk(0) == TCAP_RISK_UNKNOWN);
    CHECK(tcap_flags_risk(TCAP_FLAG_NETWORK_ACCESS) == TCAP_RISK_UNKNOWN);
    CHECK(tcap_flags_risk(TCAP_FLAG_SAFE) == TCAP_RISK_SAFE);
    CHECK(tcap_flags_risk(TCAP_FLAG_SAFE | TCAP_FLAG_LOW_RISK) == TCAP_RISK_LOW);
    CHECK(tcap_flags_risk(TCAP_FLAG_MEDIUM_RISK | TCAP_FLAG_CRITICAL) == TCAP_RISK_CRITICAL);
    CHECK(tcap_flags_risk(UINT32_MAX) == TCAP_RISK_CRITICAL);
    CHECK(tcap_kb_flags_risk(0) == TCAP_RISK_UNKNOWN);
    CHECK(tcap_kb_flags_risk(TCAP_FLAG_HIGH_RISK | TCAP_KB_FLAG_SUDO) == TCAP_RISK_HIGH);

    uint32_t out = 77;
    CHECK_RC(tcap_kb_flags_to_canonical(TCAP_KB_FLAG_SUDO | TCAP_FLAG_LOW_RISK, &out), TCAP_RESULT_OK);
    CHECK(out == (TCAP_FLAG_REQUIRES_SUDO | TCAP_FLAG_LOW_RISK));
    out = 77;
    CHECK_RC(tcap_kb_flags_to_canonical(1u << 5, &out), TCAP_RESULT_UNMAPPED_FLAGS);
    CHECK_RC(tcap_kb_flags_to_canonical(0, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_flags_to_kb(TCAP_FLAG_KERNEL_MODULE, &out), TCAP_RESULT_UNMAPPED_FLAGS);
    CHECK_RC(tcap_flags_to_kb(TCAP_FLAG_PROCESS_CONTROL, &out), TCAP_RESULT_OK);
    CHECK(out == TCAP_KB_FLAG_PROCESS);
    out = 77;
    CHECK_RC(tcap_flags_to_kb(0, NULL), TCAP_RESULT_NULL_ARGUMENT);
    uint32_t slots[2] = {0, 0};
    CHECK_RC(tcap_flags_to_kb(0, (uint32_t *)misaligned(slots)), TCAP_RESULT_MISALIGNED);
    CHECK_RC(tcap_kb_flags_to_canonical(0, (uint32_t *)misaligned(slots)), TCAP_RESULT_MISALIGNED);
    CHECK(slots[0] == 0 && slots[1] == 0 && out == 77);
}

static void test_flags_format(void) {
    char buf[TCAP_FLAGS_FORMAT_MAX];
    size_t n = 0;
    CHECK_RC(tcap_flags_format(0x6d0, buf, sizeof buf, &n), TCAP_RESULT_OK);
    const char *want = "0x000006d0 [CRITICAL|REQUIRES_ROOT|DESTRUCTIVE|FILE_MODIFICATION|SYSTEM_MODIFICATION]";
    CHECK(STREQ(buf, want));
    CHECK(n == strlen(want));
    /* The longest text fits TCAP_FLAGS_FORMAT_MAX. */
    CHECK_RC(tcap_flags_format(UINT32_MAX, buf, sizeof buf, &n), TCAP_RESULT_OK);
    CHECK(n == strlen(buf) && n < TCAP_FLAGS_FORMAT_MAX);
    CHECK_RC(tcap_flags_format(0, buf, sizeof buf, &n), TCAP_RESULT_OK);
    CHECK(STREQ(buf, "0x00000000 []"));

    /* Exactly text + NUL fits; one byte less is refused and writes nothing. */
    char small[128];
    memset(small, 'Z', sizeof small);
    CHECK_RC(tcap_flags_format(0x6d0, small, strlen(want) + 1, &n), TCAP_RESULT_OK);
    CHECK(STREQ(small, want));
    memset(small, 'Z', sizeof small);
    n = 99;
    CHECK_RC(tcap_flags_format(0x6d0, small, strlen(want), &n), TCAP_RESULT_BUFFER_TOO_SMALL);
    CHECK_RC(tcap_flags_format(0x6d0, small, 0, &n), TCAP_RESULT_BUFFER_TOO_SMALL);
    int untouched = 1;
    for (size_t i = 0; i < sizeof small; i++) untouched &= small[i] == 'Z';
    CHECK(untouched && n == 99);
    CHECK_RC(tcap_flags_format(0, NULL, 16, &n), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_flags_format(0, small, sizeof small, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_flags_format(0, small, SIZE_MAX, &n), TCAP_RESULT_INVALID_LENGTH);
    size_t slots[2] = {0, 0};
    CHECK_RC(tcap_flags_format(0, small, sizeof small, (size_t *)misaligned(slots)), TCAP_RESULT_MISALIGNED);
    CHECK(slots[0] == 0 && slots[1] == 0);
}

int main(void) {
    test_version();
    test_result_str();
    test_names();
    test_command_id();
    test_flags();
    test_flags_format();
    printf("tcap C11 client against library %s\n", tcap_version());
    printf("c11: %u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
