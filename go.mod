module exokernelul.dev/exo

go 1.26.0

require golang.org/x/sys v0.50.0

require github.com/opencontainers/runtime-spec v1.2.0 // indirect
