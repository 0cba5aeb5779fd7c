/* test_tcap.c — C11 test suite for the tcap C ABI. Exercises every function and every error path.
 * Compiled with -std=c11 -Wall -Wextra -Wpedantic -Werror; run linked statically, dynamically, under
 * ASan+UBSan and under valgrind (mk/ffi.mk). Exits non-zero if any check fails. */
#include <inttypes.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

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
    TCAP_RESULT_BAD_HANDLE,   TCAP_RESULT_UNMAPPED_FLAGS, TCAP_RESULT_DESCRIPTOR_LENGTH,
    TCAP_RESULT_DESCRIPTOR_MAGIC, TCAP_RESULT_DESCRIPTOR_VERSION, TCAP_RESULT_DESCRIPTOR_CHECKSUM,
    TCAP_RESULT_DESCRIPTOR_FIELD_RANGE, TCAP_RESULT_IMAGE_TRUNCATED, TCAP_RESULT_IMAGE_MAGIC,
    TCAP_RESULT_IMAGE_VERSION, TCAP_RESULT_IMAGE_CHECKSUM, TCAP_RESULT_IMAGE_CORRUPT,
    TCAP_RESULT_NOT_FOUND,    TCAP_RESULT_AGENT_OUT_OF_RANGE, TCAP_RESULT_AGENT_STATE_REJECTED,
    TCAP_RESULT_CONFIG_INVALID, TCAP_RESULT_POLICY_FAILS_OPEN, TCAP_RESULT_NODE_OUT_OF_RANGE,
    TCAP_RESULT_NO_ROUTE,     TCAP_RESULT_SOURCE_BLOCKED, TCAP_RESULT_DESTINATION_BLOCKED,
    TCAP_RESULT_NETWORK_CAPACITY, TCAP_RESULT_EDGE_INVALID, TCAP_RESULT_EDGE_EXISTS,
    TCAP_RESULT_DEGREE_FULL,  TCAP_RESULT_SELF_VOTE,   TCAP_RESULT_VOTER_BLOCKED,
    TCAP_RESULT_ALREADY_VOTED, TCAP_RESULT_REPAIR_TASK_TAKEN, TCAP_RESULT_REPAIR_WORKER_BUSY,
    TCAP_RESULT_REPAIR_INDEX, TCAP_RESULT_PANIC,      TCAP_RESULT_INTERNAL,
};
/* The published numbers, checked here too (a C client compiled against an old header relies on them). */
_Static_assert(TCAP_RESULT_DESCRIPTOR_LENGTH == 201 && TCAP_RESULT_DESCRIPTOR_FIELD_RANGE == 205,
               "2xx block");
_Static_assert(TCAP_RESULT_IMAGE_TRUNCATED == 300 && TCAP_RESULT_NOT_FOUND == 305, "3xx block");
_Static_assert(TCAP_RESULT_AGENT_OUT_OF_RANGE == 400 && TCAP_RESULT_POLICY_FAILS_OPEN == 403, "4xx block");
_Static_assert(TCAP_RESULT_NODE_OUT_OF_RANGE == 500 && TCAP_RESULT_ALREADY_VOTED == 510 &&
                   TCAP_RESULT_REPAIR_INDEX == 513,
               "5xx block");
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

/* ---- registry ------------------------------------------------------------------------------------- */

static uint32_t cmd_id(const char *name) {
    uint32_t id = 0;
    tcap_command_id((const uint8_t *)name, strlen(name), &id);
    return id;
}

static void test_registry(void) {
    tcap_registry reg, opened, untouched;
    memset(&untouched, 0x5a, sizeof untouched);
    size_t n = 0, m = 0;
    CHECK_RC(tcap_registry_len(&untouched, &n), TCAP_RESULT_BAD_HANDLE);
    CHECK_RC(tcap_registry_builtin(NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_registry_builtin((tcap_registry *)misaligned(&reg)), TCAP_RESULT_MISALIGNED);
    CHECK_RC(tcap_registry_builtin(&reg), TCAP_RESULT_OK);
    CHECK_RC(tcap_registry_len(&reg, &n), TCAP_RESULT_OK);
    CHECK(n > 100);
    CHECK_RC(tcap_registry_len(NULL, &n), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_registry_len(&reg, NULL), TCAP_RESULT_NULL_ARGUMENT);

    /* The built-in image, copied and reopened: same entries. */
    const uint8_t *img = NULL;
    size_t img_len = 0;
    CHECK_RC(tcap_registry_image(&reg, &img, &img_len), TCAP_RESULT_OK);
    CHECK(img != NULL && img_len > 128 && memcmp(img, "TCAPREG", 8) == 0);
    CHECK_RC(tcap_registry_image(&reg, NULL, &img_len), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_registry_image(&reg, &img, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_registry_image(&untouched, &img, &img_len), TCAP_RESULT_BAD_HANDLE);
    uint8_t *copy = malloc(img_len + 1);
    CHECK(copy != NULL);
    if (copy == NULL) return;
    memcpy(copy, img, img_len);
    CHECK_RC(tcap_registry_open(copy, img_len, &opened), TCAP_RESULT_OK);
    CHECK_RC(tcap_registry_len(&opened, &m), TCAP_RESULT_OK);
    CHECK(m == n);

    /* Bad images: each refused with its code, the handle untouched. */
    tcap_registry bad = untouched;
    CHECK_RC(tcap_registry_open(copy, 64, &bad), TCAP_RESULT_IMAGE_TRUNCATED);
    CHECK_RC(tcap_registry_open(copy, img_len - 1, &bad), TCAP_RESULT_IMAGE_TRUNCATED);
    copy[img_len] = 0;
    CHECK_RC(tcap_registry_open(copy, img_len + 1, &bad), TCAP_RESULT_IMAGE_CORRUPT);
    copy[0] = 'X';
    CHECK_RC(tcap_registry_open(copy, img_len, &bad), TCAP_RESULT_IMAGE_MAGIC);
    copy[0] = 'T';
    copy[8] = 9;
    CHECK_RC(tcap_registry_open(copy, img_len, &bad), TCAP_RESULT_IMAGE_VERSION);
    copy[8] = img[8];
    copy[img_len - 8] ^= 0x40;
    CHECK_RC(tcap_registry_open(copy, img_len, &bad), TCAP_RESULT_IMAGE_CHECKSUM);
    copy[img_len - 8] ^= 0x40;
    CHECK_RC(tcap_registry_open(NULL, 10, &bad), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_registry_open(copy, SIZE_MAX, &bad), TCAP_RESULT_INVALID_LENGTH);
    CHECK_RC(tcap_registry_open(copy, img_len, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK(memcmp(&bad, &untouched, sizeof bad) == 0);

    /* Lookups. */
    tcap_entry e, e2;
    CHECK_RC(tcap_registry_lookup_name(&reg, (const uint8_t *)"rm", 2, &e), TCAP_RESULT_OK);
    CHECK(e.id == 0xd67f249bu && e.risk == TCAP_RISK_CRITICAL && e.name_len == 2 && memcmp(e.name, "rm", 2) == 0);
    CHECK(tcap_flags_risk(e.flags) == e.risk);
    CHECK_RC(tcap_registry_lookup_id(&opened, e.id, &e2), TCAP_RESULT_OK);
    CHECK(e2.id == e.id && e2.flags == e.flags && e2.exec_time_ms == e.exec_time_ms && e2.name_len == 2);
    CHECK(e2.name >= copy && e2.name < copy + img_len); /* zero-copy: points into the opened bytes */
    CHECK_RC(tcap_registry_lookup_name(&reg, (const uint8_t *)"git status", 10, &e), TCAP_RESULT_OK);
    CHECK(e.id == cmd_id("git status"));
    memset(&e2, 0x77, sizeof e2);
    tcap_entry e2_before = e2;
    CHECK_RC(tcap_registry_lookup_id(&reg, 0x01020304u, &e2), TCAP_RESULT_NOT_FOUND);
    CHECK_RC(tcap_registry_lookup_name(&reg, (const uint8_t *)"no-such-tool", 12, &e2), TCAP_RESULT_NOT_FOUND);
    CHECK_RC(tcap_registry_lookup_name(&reg, (const uint8_t *)"RM", 2, &e2), TCAP_RESULT_NOT_FOUND);
    CHECK_RC(tcap_registry_lookup_name(&reg, (const uint8_t *)"rm", 0, &e2), TCAP_RESULT_INVALID_LENGTH);
    CHECK_RC(tcap_registry_lookup_name(&reg, NULL, 2, &e2), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_registry_lookup_name(&reg, (const uint8_t *)"rm", 2, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_registry_lookup_id(NULL, 1, &e2), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_registry_lookup_id(&untouched, e.id, &e2), TCAP_RESULT_BAD_HANDLE);
    CHECK(memcmp(&e2, &e2_before, sizeof e2) == 0);

    /* Resolve a command line. */
    const char *line = "  git   status --short";
    size_t matched = 0;
    CHECK_RC(tcap_registry_resolve(&reg, (const uint8_t *)line, strlen(line), &e, &matched), TCAP_RESULT_OK);
    CHECK(e.id == cmd_id("git status") && STREQ(line + matched, " --short"));
    line = "rm -rf /";
    CHECK_RC(tcap_registry_resolve(&reg, (const uint8_t *)line, strlen(line), &e, &matched), TCAP_RESULT_OK);
    CHECK(e.id == 0xd67f249bu && matched == 2);
    line = "frobnicate --all";
    matched = 42;
    CHECK_RC(tcap_registry_resolve(&reg, (const uint8_t *)line, strlen(line), &e, &matched), TCAP_RESULT_NOT_FOUND);
    CHECK_RC(tcap_registry_resolve(&reg, (const uint8_t *)line, 0, &e, &matched), TCAP_RESULT_INVALID_LENGTH);
    CHECK_RC(tcap_registry_resolve(&reg, (const uint8_t *)line, 3, &e, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_registry_resolve(&reg, (const uint8_t *)line, 3, NULL, &matched), TCAP_RESULT_NULL_ARGUMENT);
    CHECK(matched == 42);
    free(copy);
}

/* ---- descriptors ---------------------------------------------------------------------------------- */

static void test_descriptor(void) {
    uint8_t kb_rm[24], spec_rm[24], out[24];
    hex_decode("544350020002d67f249b0000170400000064000a00010389", kb_rm, 24);
    hex_decode("544350020002d67f249b000006d0271003e800320002ef04", spec_rm, 24);
    tcap_descriptor d;
    tcap_flavour f = 99;
    CHECK_RC(tcap_descriptor_decode(kb_rm, 24, TCAP_FLAVOUR_HINT_NONE, &d, &f), TCAP_RESULT_OK);
    CHECK(f == TCAP_FLAVOUR_KNOWLEDGE_BASE && d.command_id == 0xd67f249bu);
    CHECK(d.command_len == TCAP_COMMAND_LEN_UNKNOWN && d.exec_time_ms == 100 && d.memory_mb == 10 && d.output_kb == 1);
    CHECK((d.flags & TCAP_FLAG_REQUIRES_SUDO) != 0 && tcap_flags_risk(d.flags) == TCAP_RISK_MEDIUM);
    CHECK_RC(tcap_descriptor_encode(&d, TCAP_FLAVOUR_KNOWLEDGE_BASE, out), TCAP_RESULT_OK);
    CHECK(memcmp(out, kb_rm, 24) == 0);
    CHECK_RC(tcap_descriptor_decode(spec_rm, 24, TCAP_FLAVOUR_HINT_NONE, &d, &f), TCAP_RESULT_OK);
    CHECK(f == TCAP_FLAVOUR_SPEC && d.flags == 0x6d0u && d.exec_time_ms == 10000u && d.command_len == 2);
    CHECK_RC(tcap_descriptor_encode(&d, TCAP_FLAVOUR_SPEC, out), TCAP_RESULT_OK);
    CHECK(memcmp(out, spec_rm, 24) == 0);
    /* Spec and registry layouts share the CRC: the hint decides. */
    CHECK_RC(tcap_descriptor_encode(&d, TCAP_FLAVOUR_REGISTRY, out), TCAP_RESULT_OK);
    tcap_descriptor r;
    CHECK_RC(tcap_descriptor_decode(out, 24, TCAP_FLAVOUR_REGISTRY, &r, &f), TCAP_RESULT_OK);
    CHECK(f == TCAP_FLAVOUR_REGISTRY && r.exec_time_ms == d.exec_time_ms && r.command_len == TCAP_COMMAND_LEN_UNKNOWN);

    /* Decode errors, in order; outputs untouched. */
    tcap_descriptor keep = d;
    tcap_flavour keep_f = f;
    uint8_t bad[25];
    memcpy(bad, kb_rm, 24);
    bad[24] = 0;
    CHECK_RC(tcap_descriptor_decode(bad, 23, TCAP_FLAVOUR_HINT_NONE, &d, &f), TCAP_RESULT_DESCRIPTOR_LENGTH);
    CHECK_RC(tcap_descriptor_decode(bad, 25, TCAP_FLAVOUR_HINT_NONE, &d, &f), TCAP_RESULT_DESCRIPTOR_LENGTH);
    CHECK_RC(tcap_descriptor_decode(bad, 0, TCAP_FLAVOUR_HINT_NONE, &d, &f), TCAP_RESULT_DESCRIPTOR_LENGTH);
    bad[0] = 'X';
    CHECK_RC(tcap_descriptor_decode(bad, 24, TCAP_FLAVOUR_HINT_NONE, &d, &f), TCAP_RESULT_DESCRIPTOR_MAGIC);
    bad[0] = 'T';
    bad[5] = 3;
    CHECK_RC(tcap_descriptor_decode(bad, 24, TCAP_FLAVOUR_HINT_NONE, &d, &f), TCAP_RESULT_DESCRIPTOR_VERSION);
    bad[5] = 2;
    bad[23] ^= 1;
    CHECK_RC(tcap_descriptor_decode(bad, 24, TCAP_FLAVOUR_HINT_NONE, &d, &f), TCAP_RESULT_DESCRIPTOR_CHECKSUM);
    CHECK_RC(tcap_descriptor_decode(kb_rm, 24, 3, &d, &f), TCAP_RESULT_INVALID_ENUM);
    CHECK_RC(tcap_descriptor_decode(NULL, 24, TCAP_FLAVOUR_HINT_NONE, &d, &f), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_descriptor_decode(kb_rm, 24, TCAP_FLAVOUR_HINT_NONE, NULL, &f), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_descriptor_decode(kb_rm, 24, TCAP_FLAVOUR_HINT_NONE, &d, NULL), TCAP_RESULT_NULL_ARGUMENT);
    uint32_t slots[8] = {0};
    CHECK_RC(tcap_descriptor_decode(kb_rm, 24, TCAP_FLAVOUR_HINT_NONE, (tcap_descriptor *)misaligned(slots), &f),
             TCAP_RESULT_MISALIGNED);
    /* A knowledge-base descriptor with an undefined flag bit (5) and a fixed-up byte sum. */
    memcpy(bad, kb_rm, 24);
    bad[13] |= 0x20;
    unsigned sum = 0;
    for (int i = 0; i < 22; i++) sum += bad[i];
    bad[22] = (uint8_t)(sum >> 8);
    bad[23] = (uint8_t)sum;
    CHECK_RC(tcap_descriptor_decode(bad, 24, TCAP_FLAVOUR_HINT_NONE, &d, &f), TCAP_RESULT_UNMAPPED_FLAGS);
    CHECK(memcmp(&d, &keep, sizeof d) == 0 && f == keep_f);

    /* Encode errors; the output untouched. */
    memset(out, 0xee, sizeof out);
    d.exec_time_ms = 70000;
    CHECK_RC(tcap_descriptor_encode(&d, TCAP_FLAVOUR_SPEC, out), TCAP_RESULT_DESCRIPTOR_FIELD_RANGE);
    CHECK_RC(tcap_descriptor_encode(&d, TCAP_FLAVOUR_REGISTRY, out), TCAP_RESULT_OK); /* u32 there */
    memset(out, 0xee, sizeof out);
    d.exec_time_ms = 5;
    d.command_len = 70000;
    CHECK_RC(tcap_descriptor_encode(&d, TCAP_FLAVOUR_SPEC, out), TCAP_RESULT_DESCRIPTOR_FIELD_RANGE);
    d.command_len = 2;
    d.flags |= TCAP_FLAG_KERNEL_MODULE;
    CHECK_RC(tcap_descriptor_encode(&d, TCAP_FLAVOUR_KNOWLEDGE_BASE, out), TCAP_RESULT_UNMAPPED_FLAGS);
    CHECK_RC(tcap_descriptor_encode(&d, 7, out), TCAP_RESULT_INVALID_ENUM);
    CHECK_RC(tcap_descriptor_encode(NULL, TCAP_FLAVOUR_SPEC, out), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_descriptor_encode(&d, TCAP_FLAVOUR_SPEC, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_descriptor_encode((const tcap_descriptor *)misaligned(slots), TCAP_FLAVOUR_SPEC, out),
             TCAP_RESULT_MISALIGNED);
    int untouched = 1;
    for (size_t i = 0; i < sizeof out; i++) untouched &= out[i] == 0xee;
    CHECK(untouched);
}

/* ---- engine --------------------------------------------------------------------------------------- */

static alignas(TCAP_ENGINE_ALIGN) uint8_t engine_mem[16384];
static alignas(TCAP_NETWORK_ALIGN) uint8_t network_mem[8 * 1024];

static tcap_verdict verdict_of(tcap_engine *e, uint64_t now, uint32_t agent, const char *name, tcap_result *rc) {
    tcap_verdict v;
    memset(&v, 0, sizeof v);
    *rc = tcap_engine_check(e, now, agent, cmd_id(name), &v);
    return v;
}

static void test_engine_init_errors(const tcap_registry *reg) {
    size_t size = 0, big = 0;
    CHECK_RC(tcap_engine_size(4, &size), TCAP_RESULT_OK);
    CHECK(size >= 4 * TCAP_AGENT_STATE_SIZE && size <= sizeof engine_mem);
    CHECK_RC(tcap_engine_size(8, &big), TCAP_RESULT_OK);
    CHECK(big == size + 4 * TCAP_AGENT_STATE_SIZE);
    CHECK_RC(tcap_engine_size(0, &size), TCAP_RESULT_INVALID_LENGTH);
    CHECK_RC(tcap_engine_size(4, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_engine_size(4, (size_t *)misaligned(&big)), TCAP_RESULT_MISALIGNED);

    tcap_config cfg;
    CHECK_RC(tcap_config_default(&cfg), TCAP_RESULT_OK);
    CHECK(cfg.struct_size == sizeof cfg && cfg.warmup_calls > 0 && cfg.up_q16[0] > cfg.down_q16[0]);
    CHECK(cfg.policy[TCAP_RISK_UNKNOWN * 4] != TCAP_DECISION_ALLOW);
    CHECK_RC(tcap_config_default(NULL), TCAP_RESULT_NULL_ARGUMENT);

    tcap_engine *e = NULL;
    memset(engine_mem, 0, sizeof engine_mem);
    CHECK_RC(tcap_engine_init(NULL, size, 4, reg, NULL, &e), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_engine_init(engine_mem + 8, size, 4, reg, NULL, &e), TCAP_RESULT_MISALIGNED);
    CHECK_RC(tcap_engine_init(engine_mem, size - 1, 4, reg, NULL, &e), TCAP_RESULT_BUFFER_TOO_SMALL);
    CHECK_RC(tcap_engine_init(engine_mem, size, 0, reg, NULL, &e), TCAP_RESULT_INVALID_LENGTH);
    CHECK_RC(tcap_engine_init(engine_mem, size, 4, NULL, NULL, &e), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_engine_init(engine_mem, size, 4, reg, NULL, NULL), TCAP_RESULT_NULL_ARGUMENT);
    tcap_registry junk;
    memset(&junk, 0, sizeof junk);
    CHECK_RC(tcap_engine_init(engine_mem, size, 4, &junk, NULL, &e), TCAP_RESULT_BAD_HANDLE);
    tcap_config c = cfg;
    c.struct_size = 8;
    CHECK_RC(tcap_engine_init(engine_mem, size, 4, reg, &c, &e), TCAP_RESULT_INVALID_LENGTH);
    c = cfg;
    c.down_q16[1] = c.up_q16[1];
    CHECK_RC(tcap_engine_init(engine_mem, size, 4, reg, &c, &e), TCAP_RESULT_CONFIG_INVALID);
    c = cfg;
    c.window = 0;
    CHECK_RC(tcap_engine_init(engine_mem, size, 4, reg, &c, &e), TCAP_RESULT_CONFIG_INVALID);
    c = cfg;
    c.window = 16;
    CHECK_RC(tcap_engine_init(engine_mem, size, 4, reg, &c, &e), TCAP_RESULT_CONFIG_INVALID);
    c = cfg;
    c.reserved = 1;
    CHECK_RC(tcap_engine_init(engine_mem, size, 4, reg, &c, &e), TCAP_RESULT_CONFIG_INVALID);
    c = cfg;
    c.release_quarantine = 7;
    CHECK_RC(tcap_engine_init(engine_mem, size, 4, reg, &c, &e), TCAP_RESULT_INVALID_ENUM);
    c = cfg;
    c.policy[3] = 5;
    CHECK_RC(tcap_engine_init(engine_mem, size, 4, reg, &c, &e), TCAP_RESULT_INVALID_ENUM);
    c = cfg;
    c.policy[TCAP_RISK_UNKNOWN * 4 + 2] = TCAP_DECISION_ALLOW;
    CHECK_RC(tcap_engine_init(engine_mem, size, 4, reg, &c, &e), TCAP_RESULT_POLICY_FAILS_OPEN);
    CHECK(e == NULL);
    int zero = 1;
    for (size_t i = 0; i < sizeof engine_mem; i++) zero &= engine_mem[i] == 0;
    CHECK(zero); /* nothing written on error */

    /* Memory that was never initialised is not an engine. */
    tcap_verdict v;
    CHECK_RC(tcap_engine_check((tcap_engine *)(void *)engine_mem, 1, 0, 0, &v), TCAP_RESULT_BAD_HANDLE);

    /* Heap memory works too (aligned_alloc wants a multiple of the alignment). */
    size_t rounded = (size + TCAP_ENGINE_ALIGN - 1) / TCAP_ENGINE_ALIGN * TCAP_ENGINE_ALIGN;
    void *heap = aligned_alloc(TCAP_ENGINE_ALIGN, rounded);
    CHECK(heap != NULL);
    if (heap != NULL) {
        CHECK_RC(tcap_engine_init(heap, rounded, 4, reg, &cfg, &e), TCAP_RESULT_OK);
        CHECK((void *)e == heap);
        tcap_result rc;
        v = verdict_of(e, 1, 3, "ls", &rc);
        CHECK(rc == TCAP_RESULT_OK && v.decision == TCAP_DECISION_ALLOW);
        free(heap);
    }
}

static void test_engine(void) {
    tcap_registry reg;
    CHECK_RC(tcap_registry_builtin(&reg), TCAP_RESULT_OK);
    test_engine_init_errors(&reg);

    /* A configuration that escalates within a short script. */
    tcap_config cfg;
    CHECK_RC(tcap_config_default(&cfg), TCAP_RESULT_OK);
    cfg.warmup_calls = 4;
    cfg.warmup_outcomes = 2;
    cfg.up_q16[0] = 2 << 16, cfg.up_q16[1] = 4 << 16, cfg.up_q16[2] = 6 << 16;
    cfg.down_q16[0] = 1 << 16, cfg.down_q16[1] = 3 << 16, cfg.down_q16[2] = 5 << 16;
    cfg.window = 1; /* every call's behaviour judged at once: the script follows the status call by call */
    size_t size = 0;
    CHECK_RC(tcap_engine_size(4, &size), TCAP_RESULT_OK);
    tcap_engine *e = NULL;
    CHECK_RC(tcap_engine_init(engine_mem, size, 4, &reg, &cfg, &e), TCAP_RESULT_OK);
    CHECK((void *)e == (void *)engine_mem);

    tcap_result rc;
    tcap_verdict v = verdict_of(e, 1000, 0, "ls", &rc);
    CHECK(rc == TCAP_RESULT_OK && v.decision == TCAP_DECISION_ALLOW && v.risk == TCAP_RISK_SAFE);
    CHECK(v.agent_state == TCAP_AGENT_STATUS_TRUSTED && v.net_state == TCAP_NODE_STATE_HEALTHY && v.reasons == 0);
    v = verdict_of(e, 2000, 0, "rm", &rc);
    CHECK(rc == TCAP_RESULT_OK && v.decision == TCAP_DECISION_DENY && v.risk == TCAP_RISK_CRITICAL);
    CHECK((v.reasons & TCAP_REASON_RISK) != 0);
    /* Unknown commands are never allowed, by id or by name. */
    v = verdict_of(e, 3000, 0, "definitely-not-a-tool", &rc);
    CHECK(rc == TCAP_RESULT_OK && v.decision != TCAP_DECISION_ALLOW && v.risk == TCAP_RISK_UNKNOWN);
    CHECK((v.reasons & TCAP_REASON_UNKNOWN_COMMAND) != 0);
    CHECK_RC(tcap_engine_check_name(e, 3500, 0, (const uint8_t *)"nope-tool", 9, &v), TCAP_RESULT_OK);
    CHECK(v.decision != TCAP_DECISION_ALLOW && v.risk == TCAP_RISK_UNKNOWN);
    CHECK_RC(tcap_engine_check_name(e, 4000, 0, (const uint8_t *)"git status", 10, &v), TCAP_RESULT_OK);
    CHECK(v.risk != TCAP_RISK_UNKNOWN);

    /* Errors; the verdict is untouched. */
    tcap_verdict keep;
    memset(&keep, 0x3c, sizeof keep);
    v = keep;
    CHECK_RC(tcap_engine_check(e, 5000, 4, cmd_id("ls"), &v), TCAP_RESULT_AGENT_OUT_OF_RANGE);
    CHECK_RC(tcap_engine_check(e, 5000, UINT32_MAX, cmd_id("ls"), &v), TCAP_RESULT_AGENT_OUT_OF_RANGE);
    CHECK_RC(tcap_engine_check(NULL, 5000, 0, cmd_id("ls"), &v), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_engine_check(e, 5000, 0, cmd_id("ls"), NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_engine_check((tcap_engine *)misaligned(e), 5000, 0, cmd_id("ls"), &v), TCAP_RESULT_MISALIGNED);
    CHECK_RC(tcap_engine_check_name(e, 5000, 0, (const uint8_t *)"ls", 0, &v), TCAP_RESULT_INVALID_LENGTH);
    CHECK_RC(tcap_engine_check_name(e, 5000, 0, NULL, 2, &v), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_engine_check_name(e, 5000, 9, (const uint8_t *)"ls", 2, &v), TCAP_RESULT_AGENT_OUT_OF_RANGE);
    CHECK(memcmp(&v, &keep, sizeof v) == 0);
    CHECK_RC(tcap_engine_observe(e, 5000, 0, TCAP_OUTCOME_SUCCESS), TCAP_RESULT_OK);
    CHECK_RC(tcap_engine_observe(e, 5000, 0, 4), TCAP_RESULT_INVALID_ENUM);
    CHECK_RC(tcap_engine_observe(e, 5000, 4, TCAP_OUTCOME_SUCCESS), TCAP_RESULT_AGENT_OUT_OF_RANGE);
    CHECK_RC(tcap_engine_observe(NULL, 5000, 0, TCAP_OUTCOME_SUCCESS), TCAP_RESULT_NULL_ARGUMENT);

    /* Escalation: agent 2 turns to destructive tools and reports denials; agent 1 stays well-behaved. */
    static const char *const calm[] = {"ls", "cat", "ls", "grep", "ls", "cat"};
    static const char *const risky[] = {"rm", "dd", "sudo", "mkfs", "rm", "shred", "dd", "chmod",
                                        "rm", "sudo", "kill", "rm", "dd", "mkfs", "rm", "sudo"};
    uint64_t now = 1000000;
    for (size_t i = 0; i < sizeof calm / sizeof calm[0]; i++) {
        now += 2000000;
        verdict_of(e, now, 1, calm[i], &rc);
        v = verdict_of(e, now, 2, calm[i], &rc);
        CHECK(rc == TCAP_RESULT_OK && v.agent_state == TCAP_AGENT_STATUS_TRUSTED);
    }
    uint32_t last = TCAP_AGENT_STATUS_TRUSTED, escalations = 0;
    for (size_t i = 0; i < sizeof risky / sizeof risky[0]; i++) {
        now += 100000;
        v = verdict_of(e, now, 2, risky[i], &rc);
        CHECK(rc == TCAP_RESULT_OK && v.agent_state >= last && v.decision != TCAP_DECISION_ALLOW);
        escalations += (v.reasons & TCAP_REASON_ESCALATED) != 0;
        last = v.agent_state;
        CHECK_RC(tcap_engine_observe(e, now + 50000, 2, TCAP_OUTCOME_DENIED), TCAP_RESULT_OK);
        tcap_verdict good = verdict_of(e, now, 1, "ls", &rc);
        CHECK(rc == TCAP_RESULT_OK && good.decision == TCAP_DECISION_ALLOW);
    }
    CHECK(last == TCAP_AGENT_STATUS_QUARANTINED && escalations == 3);
    v = verdict_of(e, now + 1, 2, "ls", &rc);
    CHECK(rc == TCAP_RESULT_OK && v.decision == TCAP_DECISION_QUARANTINE && v.score > 0);
    CHECK(STREQ(tcap_agent_status_name(v.agent_state), "quarantined"));
    CHECK(STREQ(tcap_agent_status_name(4), "invalid"));

    /* Export / import: agent 3 becomes agent 2's twin; corrupt states are refused and change nothing. */
    uint8_t snap[TCAP_AGENT_STATE_SIZE], back[TCAP_AGENT_STATE_SIZE], fresh[TCAP_AGENT_STATE_SIZE];
    CHECK_RC(tcap_engine_agent_export(e, 2, snap), TCAP_RESULT_OK);
    CHECK_RC(tcap_engine_agent_export(e, 3, fresh), TCAP_RESULT_OK);
    int zero = 1;
    for (size_t i = 0; i < sizeof fresh; i++) zero &= fresh[i] == 0;
    CHECK(zero);
    CHECK_RC(tcap_engine_agent_import(e, 3, snap), TCAP_RESULT_OK);
    CHECK_RC(tcap_engine_agent_export(e, 3, back), TCAP_RESULT_OK);
    CHECK(memcmp(back, snap, sizeof snap) == 0);
    tcap_verdict v2 = verdict_of(e, now + 2, 2, "cat", &rc), v3 = verdict_of(e, now + 2, 3, "cat", &rc);
    CHECK(memcmp(&v2, &v3, sizeof v2) == 0);
    CHECK_RC(tcap_engine_agent_export(e, 3, snap), TCAP_RESULT_OK);
    static const struct { size_t at; uint8_t val; } corrupt[] = {{55, 4}, {57, 9}, {54, 7}, {60, 1}, {19, 0x80}};
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        uint8_t bad[TCAP_AGENT_STATE_SIZE];
        memcpy(bad, snap, sizeof bad);
        bad[corrupt[i].at] = corrupt[i].val;
        CHECK_RC(tcap_engine_agent_import(e, 3, bad), TCAP_RESULT_AGENT_STATE_REJECTED);
    }
    CHECK_RC(tcap_engine_agent_import(e, 4, snap), TCAP_RESULT_AGENT_OUT_OF_RANGE);
    CHECK_RC(tcap_engine_agent_import(e, 3, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_engine_agent_import(NULL, 3, snap), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_engine_agent_export(e, 4, back), TCAP_RESULT_AGENT_OUT_OF_RANGE);
    CHECK_RC(tcap_engine_agent_export(e, 3, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_engine_agent_export(e, 3, back), TCAP_RESULT_OK);
    CHECK(memcmp(back, snap, sizeof snap) == 0);

    /* Policy: a stricter table applies at once; one that allows unknown commands is refused. */
    uint8_t codes[TCAP_POLICY_LEN];
    memcpy(codes, cfg.policy, sizeof codes);
    codes[TCAP_RISK_SAFE * 4 + TCAP_AGENT_STATUS_TRUSTED] = TCAP_DECISION_REQUIRE_APPROVAL;
    CHECK_RC(tcap_engine_set_policy(e, codes), TCAP_RESULT_OK);
    v = verdict_of(e, now + 3, 1, "ls", &rc);
    CHECK(rc == TCAP_RESULT_OK && v.decision == TCAP_DECISION_REQUIRE_APPROVAL);
    uint8_t open_codes[TCAP_POLICY_LEN];
    memcpy(open_codes, codes, sizeof codes);
    open_codes[TCAP_RISK_UNKNOWN * 4] = TCAP_DECISION_ALLOW;
    CHECK_RC(tcap_engine_set_policy(e, open_codes), TCAP_RESULT_POLICY_FAILS_OPEN);
    open_codes[TCAP_RISK_UNKNOWN * 4] = 5;
    CHECK_RC(tcap_engine_set_policy(e, open_codes), TCAP_RESULT_INVALID_ENUM);
    CHECK_RC(tcap_engine_set_policy(e, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_engine_set_policy(NULL, codes), TCAP_RESULT_NULL_ARGUMENT);
    v = verdict_of(e, now + 4, 1, "ls", &rc);
    CHECK(v.decision == TCAP_DECISION_REQUIRE_APPROVAL); /* kept */

    /* ---- network, and the engine consulting it ---- */
    size_t nsize = 0;
    CHECK_RC(tcap_network_size(4, &nsize), TCAP_RESULT_OK);
    CHECK(nsize <= sizeof network_mem);
    CHECK_RC(tcap_network_size(0, &nsize), TCAP_RESULT_INVALID_LENGTH);
    CHECK_RC(tcap_network_size(TCAP_NETWORK_MAX_NODES + 1, &nsize), TCAP_RESULT_NETWORK_CAPACITY);
    CHECK_RC(tcap_network_size(4, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_network_size(4, &nsize), TCAP_RESULT_OK);
    tcap_network *net = NULL;
    CHECK_RC(tcap_network_init(network_mem + 16, nsize, 4, &net), TCAP_RESULT_MISALIGNED);
    CHECK_RC(tcap_network_init(network_mem, nsize - 1, 4, &net), TCAP_RESULT_BUFFER_TOO_SMALL);
    CHECK_RC(tcap_network_init(NULL, nsize, 4, &net), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_network_init(network_mem, nsize, 4, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_network_init(network_mem, nsize, TCAP_NETWORK_MAX_NODES + 1, &net), TCAP_RESULT_NETWORK_CAPACITY);
    CHECK(net == NULL);
    uint32_t hop = 77;
    CHECK_RC(tcap_network_route((const tcap_network *)(const void *)network_mem, 0, 1, &hop), TCAP_RESULT_BAD_HANDLE);
    CHECK_RC(tcap_network_init(network_mem, nsize, 4, &net), TCAP_RESULT_OK);
    /* A ring 0-1-2-3-0 with one expensive edge. */
    CHECK_RC(tcap_network_add_edge(net, 0, 1, 1), TCAP_RESULT_OK);
    CHECK_RC(tcap_network_add_edge(net, 1, 2, 1), TCAP_RESULT_OK);
    CHECK_RC(tcap_network_add_edge(net, 2, 3, 1), TCAP_RESULT_OK);
    CHECK_RC(tcap_network_add_edge(net, 3, 0, 10), TCAP_RESULT_OK);
    CHECK_RC(tcap_network_add_edge(net, 0, 1, 1), TCAP_RESULT_EDGE_EXISTS);
    CHECK_RC(tcap_network_add_edge(net, 2, 2, 1), TCAP_RESULT_EDGE_INVALID);
    CHECK_RC(tcap_network_add_edge(net, 0, 2, 0), TCAP_RESULT_EDGE_INVALID);
    CHECK_RC(tcap_network_add_edge(net, 0, 2, TCAP_EDGE_WEIGHT_MAX + 1), TCAP_RESULT_EDGE_INVALID);
    CHECK_RC(tcap_network_add_edge(net, 0, 4, 1), TCAP_RESULT_NODE_OUT_OF_RANGE);
    CHECK_RC(tcap_network_add_edge(NULL, 0, 2, 1), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_network_route(net, 0, 3, &hop), TCAP_RESULT_OK);
    CHECK(hop == 1); /* 0-1-2-3 costs less than the direct weight-10 edge */
    CHECK_RC(tcap_network_route(net, 2, 2, &hop), TCAP_RESULT_OK);
    CHECK(hop == 2);
    CHECK_RC(tcap_network_route(net, 0, 4, &hop), TCAP_RESULT_NODE_OUT_OF_RANGE);
    CHECK_RC(tcap_network_route(net, 0, 3, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_network_route(NULL, 0, 3, &hop), TCAP_RESULT_NULL_ARGUMENT);

    /* Local anomaly evidence quarantines node 1: routes go around it, and its calls are refused. */
    uint32_t state = 99;
    for (uint64_t t = 0; t < 5; t++) {
        CHECK_RC(tcap_network_report_anomaly(net, now + t, 1, 45000, &state), TCAP_RESULT_OK);
    }
    CHECK(state == TCAP_NODE_STATE_QUARANTINED);
    CHECK_RC(tcap_network_report_anomaly(net, now, 9, 1000, &state), TCAP_RESULT_NODE_OUT_OF_RANGE);
    CHECK_RC(tcap_network_report_anomaly(net, now, 1, 1000, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_network_node_state(net, 1, &state), TCAP_RESULT_OK);
    CHECK(state == TCAP_NODE_STATE_QUARANTINED);
    CHECK_RC(tcap_network_node_state(net, 4, &state), TCAP_RESULT_NODE_OUT_OF_RANGE);
    CHECK_RC(tcap_network_node_state(net, 0, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_network_route(net, 0, 2, &hop), TCAP_RESULT_OK);
    CHECK(hop == 3);
    CHECK_RC(tcap_network_route(net, 1, 2, &hop), TCAP_RESULT_SOURCE_BLOCKED);
    CHECK_RC(tcap_network_route(net, 0, 1, &hop), TCAP_RESULT_DESTINATION_BLOCKED);

    CHECK_RC(tcap_engine_attach_network(e, net), TCAP_RESULT_OK);
    v = verdict_of(e, now + 10, 1, "ls", &rc);
    CHECK(rc == TCAP_RESULT_OK && v.decision == TCAP_DECISION_QUARANTINE && v.net_state == TCAP_NODE_STATE_QUARANTINED);
    CHECK((v.reasons & TCAP_REASON_NETWORK) != 0);
    v = verdict_of(e, now + 10, 0, "rm", &rc);
    CHECK(rc == TCAP_RESULT_OK && v.net_state == TCAP_NODE_STATE_HEALTHY && v.decision == TCAP_DECISION_DENY);

    /* Votes: 0, 2 and 3 are eligible on... node 3 accused by 0 and 2: a strict majority of {0, 2}. */
    tcap_vote_outcome vo = 99;
    CHECK_RC(tcap_network_vote(net, now, 1, 3, true, &vo), TCAP_RESULT_VOTER_BLOCKED);
    CHECK_RC(tcap_network_vote(net, now, 3, 3, true, &vo), TCAP_RESULT_SELF_VOTE);
    CHECK_RC(tcap_network_vote(net, now, 0, 3, true, &vo), TCAP_RESULT_OK);
    CHECK(vo == TCAP_VOTE_OUTCOME_PENDING);
    CHECK_RC(tcap_network_vote(net, now, 0, 3, true, &vo), TCAP_RESULT_ALREADY_VOTED);
    CHECK_RC(tcap_network_vote(net, now, 0, 7, true, &vo), TCAP_RESULT_NODE_OUT_OF_RANGE);
    CHECK_RC(tcap_network_vote(net, now, 2, 3, true, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_network_vote(net, now, 2, 3, true, &vo), TCAP_RESULT_OK);
    CHECK(vo == TCAP_VOTE_OUTCOME_CONVICTED);
    CHECK_RC(tcap_network_node_state(net, 3, &state), TCAP_RESULT_OK);
    CHECK(state == TCAP_NODE_STATE_ISOLATED);
    CHECK_RC(tcap_network_route(net, 0, 2, &hop), TCAP_RESULT_NO_ROUTE); /* 1 and 3 both blocked */
    CHECK_RC(tcap_network_vote(net, now, 0, 2, false, &vo), TCAP_RESULT_OK);
    CHECK(vo == TCAP_VOTE_OUTCOME_ACQUITTED);

    /* Operator release, and DEGREE_FULL on a star. */
    CHECK_RC(tcap_network_set_state(net, now + 20, 1, TCAP_NODE_STATE_HEALTHY), TCAP_RESULT_OK);
    CHECK_RC(tcap_network_set_state(net, now + 20, 1, 5), TCAP_RESULT_INVALID_ENUM);
    CHECK_RC(tcap_network_set_state(net, now + 20, 4, TCAP_NODE_STATE_HEALTHY), TCAP_RESULT_NODE_OUT_OF_RANGE);
    CHECK_RC(tcap_network_set_state(NULL, now, 1, 0), TCAP_RESULT_NULL_ARGUMENT);
    v = verdict_of(e, now + 21, 1, "ls", &rc);
    CHECK(rc == TCAP_RESULT_OK && v.net_state == TCAP_NODE_STATE_HEALTHY && v.decision != TCAP_DECISION_QUARANTINE);

    CHECK_RC(tcap_engine_attach_network(e, NULL), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_engine_attach_network(NULL, net), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_engine_attach_network(e, (const tcap_network *)(const void *)engine_mem), TCAP_RESULT_BAD_HANDLE);
    CHECK_RC(tcap_engine_detach_network(e), TCAP_RESULT_OK);
    CHECK_RC(tcap_engine_detach_network(NULL), TCAP_RESULT_NULL_ARGUMENT);

    static alignas(TCAP_NETWORK_ALIGN) uint8_t star_mem[16 * 1024];
    size_t ssize = 0;
    uint32_t n_star = TCAP_NETWORK_MAX_DEGREE + 2;
    CHECK_RC(tcap_network_size(n_star, &ssize), TCAP_RESULT_OK);
    CHECK(ssize <= sizeof star_mem);
    tcap_network *star = NULL;
    CHECK_RC(tcap_network_init(star_mem, ssize, n_star, &star), TCAP_RESULT_OK);
    for (uint32_t i = 1; i <= TCAP_NETWORK_MAX_DEGREE; i++) {
        CHECK_RC(tcap_network_add_edge(star, 0, i, 1), TCAP_RESULT_OK);
    }
    CHECK_RC(tcap_network_add_edge(star, 0, n_star - 1, 1), TCAP_RESULT_DEGREE_FULL);
    CHECK_RC(tcap_network_route(star, n_star - 1, 0, &hop), TCAP_RESULT_NO_ROUTE);
}

/* A 1,024-node ring on heap memory: everything the network needs is in the caller's region, so
 * tcap_network_init uses a few hundred bytes of stack whatever the size. */
static void test_network_large(void) {
    const uint32_t n = 1024;
    size_t size = 0;
    CHECK_RC(tcap_network_size(n, &size), TCAP_RESULT_OK);
    CHECK(size > (size_t)8 * n * n && size < (size_t)9 * n * n);
    size_t rounded = (size + TCAP_NETWORK_ALIGN - 1) / TCAP_NETWORK_ALIGN * TCAP_NETWORK_ALIGN;
    void *mem = aligned_alloc(TCAP_NETWORK_ALIGN, rounded);
    CHECK(mem != NULL);
    if (mem == NULL) return;
    tcap_network *net = NULL;
    CHECK_RC(tcap_network_init(mem, size, n, &net), TCAP_RESULT_OK);
    for (uint32_t i = 0; i < n; i++) {
        CHECK_RC(tcap_network_add_edge(net, i, (i + 1) % n, 1), TCAP_RESULT_OK);
    }
    uint32_t hop = 0;
    CHECK_RC(tcap_network_route(net, 0, 3, &hop), TCAP_RESULT_OK);
    CHECK(hop == 1);
    CHECK_RC(tcap_network_route(net, 0, n - 3, &hop), TCAP_RESULT_OK);
    CHECK(hop == n - 1);
    CHECK_RC(tcap_network_set_state(net, 1, 1, TCAP_NODE_STATE_QUARANTINED), TCAP_RESULT_OK);
    CHECK_RC(tcap_network_route(net, 0, 3, &hop), TCAP_RESULT_OK);
    CHECK(hop == n - 1); /* the long way round */
    CHECK_RC(tcap_network_route(net, 2, 0, &hop), TCAP_RESULT_OK);
    CHECK(hop == 3);
    CHECK_RC(tcap_network_set_state(net, 2, 1, TCAP_NODE_STATE_HEALTHY), TCAP_RESULT_OK);
    CHECK_RC(tcap_network_route(net, 0, 3, &hop), TCAP_RESULT_OK);
    CHECK(hop == 1);
    CHECK_RC(tcap_network_route(net, 0, n, &hop), TCAP_RESULT_NODE_OUT_OF_RANGE);
    free(mem);
}

/* ---- parallel repairs on C11 threads ---- */

/* One worker of the runner below: takes tasks from a shared counter until none are left. */
typedef struct {
    tcap_repair_job *job;
    uint32_t n_tasks, worker;
    atomic_uint *next, *failures, *ran;
} repair_worker;

static int repair_worker_main(void *arg) {
    repair_worker *w = arg;
    for (;;) {
        unsigned t = atomic_fetch_add(w->next, 1u);
        if (t >= w->n_tasks) break;
        if (tcap_repair_job_run(w->job, t, w->worker) == TCAP_RESULT_OK) {
            atomic_fetch_add(w->ran, 1u);
        } else {
            atomic_fetch_add(w->failures, 1u);
        }
    }
    return 0;
}

typedef struct {
    atomic_uint calls, tasks, failures, ran;
} repair_ctx;

/* A runner: worker 0 on the calling thread, workers 1.. on threads started for this repair (a pool
 * would keep them; a thread that fails to start leaves its share of the tasks to the others). */
static void thread_runner(void *ctx, tcap_repair_job *job, uint32_t n_tasks, uint32_t n_workers) {
    repair_ctx *c = ctx;
    atomic_fetch_add(&c->calls, 1u);
    atomic_fetch_add(&c->tasks, n_tasks);
    atomic_uint next;
    atomic_init(&next, 0u);
    repair_worker w[TCAP_REPAIR_MAX_THREADS + 1];
    thrd_t th[TCAP_REPAIR_MAX_THREADS];
    int started[TCAP_REPAIR_MAX_THREADS] = {0};
    for (uint32_t i = 0; i < n_workers && i <= TCAP_REPAIR_MAX_THREADS; i++) {
        w[i] = (repair_worker){job, n_tasks, i, &next, &c->failures, &c->ran};
    }
    for (uint32_t i = 1; i < n_workers && i <= TCAP_REPAIR_MAX_THREADS; i++) {
        started[i - 1] = thrd_create(&th[i - 1], repair_worker_main, &w[i]) == thrd_success;
    }
    repair_worker_main(&w[0]);
    for (uint32_t i = 1; i < n_workers && i <= TCAP_REPAIR_MAX_THREADS; i++) {
        if (started[i - 1]) thrd_join(th[i - 1], NULL);
    }
}

static void *aligned_block(size_t align, size_t size) {
    return aligned_alloc(align, (size + align - 1) / align * align);
}

/* A ring with chords on n nodes. */
static tcap_network *chorded_network(void *mem, size_t size, uint32_t n) {
    tcap_network *net = NULL;
    CHECK_RC(tcap_network_init(mem, size, n, &net), TCAP_RESULT_OK);
    for (uint32_t i = 0; net != NULL && i < n; i++) {
        CHECK_RC(tcap_network_add_edge(net, i, (i + 1) % n, 1 + i % 7), TCAP_RESULT_OK);
        tcap_result rc = tcap_network_add_edge(net, i, (i * 37 + 11) % n, 1 + (i * 5) % 13);
        CHECK(rc == TCAP_RESULT_OK || rc == TCAP_RESULT_EDGE_EXISTS || rc == TCAP_RESULT_EDGE_INVALID);
    }
    return net;
}

/* The same quarantines and releases on a network that repairs on one thread and on one that repairs
 * on three (the runner above): every route is the same after every step. */
static void test_parallel_repairs(void) {
    const uint32_t n = 200, helpers = 2;
    size_t nsize = 0, psize = 0;
    CHECK_RC(tcap_network_size(n, &nsize), TCAP_RESULT_OK);
    CHECK_RC(tcap_network_parallel_size(n, helpers, &psize), TCAP_RESULT_OK);
    CHECK(psize == 128 + helpers * (128 + 12 * (size_t)n));
    CHECK_RC(tcap_network_parallel_size(n, 0, &psize), TCAP_RESULT_INVALID_LENGTH);
    CHECK_RC(tcap_network_parallel_size(n, TCAP_REPAIR_MAX_THREADS + 1, &psize), TCAP_RESULT_INVALID_LENGTH);
    void *ms = aligned_block(TCAP_NETWORK_ALIGN, nsize), *mp = aligned_block(TCAP_NETWORK_ALIGN, nsize);
    void *pm = aligned_block(TCAP_REPAIR_ALIGN, psize);
    CHECK(ms != NULL && mp != NULL && pm != NULL);
    if (ms == NULL || mp == NULL || pm == NULL) {
        free(ms), free(mp), free(pm);
        return;
    }
    tcap_network *seq = chorded_network(ms, nsize, n), *par = chorded_network(mp, nsize, n);
    repair_ctx ctx;
    atomic_init(&ctx.calls, 0u), atomic_init(&ctx.tasks, 0u), atomic_init(&ctx.failures, 0u);
    atomic_init(&ctx.ran, 0u);
    CHECK_RC(tcap_network_set_parallel(par, pm, psize, helpers, NULL, &ctx), TCAP_RESULT_NULL_ARGUMENT);
    CHECK_RC(tcap_network_set_parallel(par, pm, psize - 1, helpers, thread_runner, &ctx),
             TCAP_RESULT_BUFFER_TOO_SMALL);
    CHECK_RC(tcap_network_set_parallel(par, (uint8_t *)pm + 64, psize, helpers, thread_runner, &ctx),
             TCAP_RESULT_MISALIGNED);
    CHECK_RC(tcap_network_set_parallel(par, pm, psize, helpers, thread_runner, &ctx), TCAP_RESULT_OK);
    CHECK_RC(tcap_repair_job_run(NULL, 0, 0), TCAP_RESULT_NULL_ARGUMENT);
    static const struct {
        uint32_t node, state;
    } steps[] = {{3, TCAP_NODE_STATE_QUARANTINED}, {120, TCAP_NODE_STATE_ISOLATED}, {3, TCAP_NODE_STATE_HEALTHY},
                 {77, TCAP_NODE_STATE_QUARANTINED}, {78, TCAP_NODE_STATE_QUARANTINED},
                 {120, TCAP_NODE_STATE_HEALTHY}, {129, TCAP_NODE_STATE_QUARANTINED}, {77, TCAP_NODE_STATE_HEALTHY}};
    const unsigned n_steps = sizeof steps / sizeof steps[0];
    for (unsigned i = 0; i < n_steps; i++) {
        CHECK_RC(tcap_network_set_state(seq, i, steps[i].node, steps[i].state), TCAP_RESULT_OK);
        CHECK_RC(tcap_network_set_state(par, i, steps[i].node, steps[i].state), TCAP_RESULT_OK);
        unsigned differ = 0;
        for (uint32_t s = 0; s < n; s++) {
            for (uint32_t t = 0; t < n; t++) {
                uint32_t a = UINT32_MAX, b = UINT32_MAX;
                tcap_result ra = tcap_network_route(seq, s, t, &a), rb = tcap_network_route(par, s, t, &b);
                differ += ra != rb || a != b;
            }
        }
        CHECK(differ == 0);
    }
    CHECK(atomic_load(&ctx.calls) == n_steps); /* one runner call per state change */
    CHECK(atomic_load(&ctx.failures) == 0);
    /* Every task of every repair ran on the runner (200 nodes: up to four per repair), none twice. */
    CHECK(atomic_load(&ctx.ran) == atomic_load(&ctx.tasks) && atomic_load(&ctx.tasks) >= 2 * n_steps);
    CHECK_RC(tcap_network_clear_parallel(par), TCAP_RESULT_OK);
    CHECK_RC(tcap_network_set_state(par, 99, 5, TCAP_NODE_STATE_QUARANTINED), TCAP_RESULT_OK);
    CHECK(atomic_load(&ctx.calls) == n_steps); /* cleared: no runner */
    free(ms), free(mp), free(pm);
}

int main(void) {
    test_version();
    test_result_str();
    test_names();
    test_command_id();
    test_flags();
    test_flags_format();
    test_registry();
    test_descriptor();
    test_engine();
    test_network_large();
    test_parallel_repairs();
    printf("tcap C11 client against library %s\n", tcap_version());
    printf("c11: %u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
