module catfish

go 1.26.0

require (
	github.com/google/uuid v1.6.0
	golang.org/x/sync v0.25.0
)
