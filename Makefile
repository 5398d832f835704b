# Install runsc-exo on this machine and print how to plug it into containerd,
# docker and Kubernetes. `make install` needs Go 1.26 at /usr/local/go (or on
# PATH) and root for the default PREFIX.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)

.PHONY: all build install uninstall test

all: build

build:
	CGO_ENABLED=0 $(GO) build -o bin/runsc-exo ./runsc-exo

install: build
	install -D -m 0755 bin/runsc-exo $(DESTDIR)$(BINDIR)/runsc-exo
	@echo
	@echo "runsc-exo installed at $(BINDIR)/runsc-exo. To use it:"
	@echo
	@echo "  docker: add to /etc/docker/daemon.json and restart dockerd (docs/docker-daemon.json):"
	@sed 's|/usr/local/bin/runsc-exo|$(BINDIR)/runsc-exo|' docs/docker-daemon.json | sed 's/^/    /'
	@echo "    (or: dockerd --add-runtime exo=$(BINDIR)/runsc-exo), then: docker run --runtime=exo IMAGE"
	@echo
	@echo "  containerd: ctr run --runtime io.containerd.runc.v2 --runc-binary $(BINDIR)/runsc-exo IMAGE ID"
	@echo "  or a CRI runtime handler in /etc/containerd/config.toml (docs/containerd-exo.toml):"
	@sed 's|/usr/local/bin/runsc-exo|$(BINDIR)/runsc-exo|' docs/containerd-exo.toml | grep -v '^#' | sed 's/^/    /'
	@echo
	@echo "  Kubernetes: kubectl apply -f docs/runtimeclass.yaml; pods set runtimeClassName: exo"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/runsc-exo

test:
	tools/test
