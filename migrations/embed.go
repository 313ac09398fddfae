// Package migrations holds the database schema as plain SQL files, applied in order by the store.
package migrations

import "embed"

// FS holds every NNNN_name.sql file of this folder.
//
//go:embed *.sql
var FS embed.FS
