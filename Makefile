# kurir - top-level build (plain GNU make).
#
#   make            build every program into build/
#   make check      unit tests, end-to-end tests, and the sanitizer pass
#   make run        start a demo host under ./run/ in the foreground
#   make install    install under $(PREFIX) (DESTDIR honoured)
#   make fuzz       build the libFuzzer targets and run each briefly
#   make bench      benchmarks
#   make clean
#
# Missing Debian packages are installed by tools/bootstrap.sh first.

PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
BUILD      ?= build
CC         ?= cc
CFLAGS     ?= -O2 -g
SANFLAGS   ?=
FUZZ_TIME  ?= 15

PKGS  = libbsd-overlay libevent libtls libseccomp libcares
WARN  = -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
        -Wshadow -Wcast-qual -Wsign-compare -Wpointer-arith -Wformat=2 \
        -Wno-unused-parameter
# Recursive (=) on purpose: pkg-config runs only after bootstrap has
# installed the packages it asks about.
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -Icommon \
        $(shell pkg-config --cflags $(PKGS)) \
        -DKURIR_SYSCONFDIR='"$(SYSCONFDIR)"'
LIBS  = $(shell pkg-config --libs $(PKGS)) -lcrypt
TEST_LIBS = $(shell pkg-config --libs check)

STAMP = $(BUILD)/.bootstrap

# program name : source folder
PROGRAMS = kurird:kurird kurir-queue:queue kurir-sendmail:sendmail \
           kurirctl:ctl kurir-smtpd:smtpd kurir-send:send \
           kurir-local:deliver kurir-remote:remote kurir-pop3d:pop3d kurir-auth:auth
# a program is built once its folder has its main.c; modules that land
# before it (with their unit tests) are compiled by those tests
PROG_LIST = $(foreach p,$(PROGRAMS),$(if $(wildcard $(word 2,$(subst :, ,$(p)))/main.c),$(p)))
PROG_BINS = $(foreach p,$(PROG_LIST),$(BUILD)/$(word 1,$(subst :, ,$(p))))

COMMON_SRCS = $(wildcard common/*.c)
COMMON_OBJS = $(COMMON_SRCS:%.c=$(BUILD)/obj/%.o)
LIBKURIR    = $(BUILD)/libkurir.a

TEST_SRCS = $(wildcard tests/check_*.c)
TEST_BINS = $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
FUZZ_SRCS = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS = $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all check unit e2e asan run install fuzz bench clean
all: $(PROG_BINS) $(BUILD)/sendmail $(BUILD)/mailq

$(STAMP): tools/bootstrap.sh
	@mkdir -p $(@D)
	sh tools/bootstrap.sh build
	@touch $@

$(BUILD)/obj/%.o: %.c | $(STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBKURIR): $(COMMON_OBJS)
	rm -f $@
	ar rcs $@ $^

define prog_rule
$(BUILD)/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard $(2)/*.c)) $(LIBKURIR)
	$$(CC) $$(CFLAGS) $$(SANFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach p,$(PROG_LIST),$(eval $(call prog_rule,$(word 1,$(subst :, ,$(p))),$(word 2,$(subst :, ,$(p))))))

$(BUILD)/sendmail $(BUILD)/mailq: $(BUILD)/kurir-sendmail
	ln -sf kurir-sendmail $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIBKURIR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) $(LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS)

unit: $(TEST_BINS)
	sh tools/bootstrap.sh test	# check_dns serves its zone with python3-dnslib
	sh tests/run-unit.sh $(TEST_BINS)

e2e: all
	sh tools/bootstrap.sh test
	sh tests/run-e2e.sh $(BUILD)

# The unit tests again, built with AddressSanitizer and UBSan.
asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	    SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" unit

check: all unit e2e asan

run: all
	sh tools/run-demo.sh $(BUILD)

# Every program goes to libexec/kurir (kurird finds its children beside
# itself); the commands people type are symlinked into sbin.
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/libexec/kurir \
	    $(DESTDIR)$(SYSCONFDIR)/kurir
	install -m 0755 $(PROG_BINS) $(DESTDIR)$(PREFIX)/libexec/kurir/
	for p in kurird kurirctl kurir-sendmail; do \
	    ln -sf ../libexec/kurir/$$p $(DESTDIR)$(PREFIX)/sbin/$$p; done
	ln -sf ../libexec/kurir/kurir-sendmail $(DESTDIR)$(PREFIX)/sbin/sendmail
	ln -sf ../libexec/kurir/kurir-sendmail $(DESTDIR)$(PREFIX)/sbin/mailq
	install -d $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	# users holds password hashes: 0600 (kurird reads it as root); an
	# existing file is left alone (kurirctl check warns on a readable one)
	for f in conf/*.example; do b=$$(basename $$f .example); \
	    m=0644; [ $$b = users ] && m=0600; \
	    [ -e $(DESTDIR)$(SYSCONFDIR)/kurir/$$b ] || \
	    install -m $$m $$f $(DESTDIR)$(SYSCONFDIR)/kurir/$$b; done

# libFuzzer targets: clang, with the common sources compiled in.
$(BUILD)/fuzz/%: tests/fuzz/%.c $(COMMON_SRCS) $(wildcard */*.c) | $(STAMP)
	@mkdir -p $(@D)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Icommon $(shell pkg-config --cflags $(PKGS)) -DKURIR_SYSCONFDIR='"$(SYSCONFDIR)"' \
	    -o $@ $< $(COMMON_SRCS) $(LIBS)

fuzz:
	sh tools/bootstrap.sh fuzz
	$(MAKE) $(FUZZ_BINS)
	sh tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_TIME)

bench: all
	sh tools/bootstrap.sh bench
	sh tests/bench/run.sh $(BUILD)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# keep objects of test programs between runs
.SECONDARY:
