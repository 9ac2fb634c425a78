// Package registry lists every provider type jobwatch has code for. The
// config loader, the daemon and the command find a type here by its name
// and never name one themselves: adding a provider is one package that
// describes itself (its Type) and one line in types.
//
// The list is explicit rather than filled by each package's init: what is
// registered, and in which order types are listed in errors and help, is
// read in one place, and importing a provider package has no side effect.
package registry

import (
	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/anthropic"
	"github.com/jobwatch/jobwatch/providers/azureopenai"
	"github.com/jobwatch/jobwatch/providers/bedrock"
	"github.com/jobwatch/jobwatch/providers/fireworks"
	"github.com/jobwatch/jobwatch/providers/gemini"
	"github.com/jobwatch/jobwatch/providers/generic"
	"github.com/jobwatch/jobwatch/providers/groq"
	"github.com/jobwatch/jobwatch/providers/llmtune"
	"github.com/jobwatch/jobwatch/providers/mistral"
	"github.com/jobwatch/jobwatch/providers/mythicdot"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/providers/together"
	"github.com/jobwatch/jobwatch/providers/vertex"
)

// types are the provider types, in the order they are listed.
var types = []providers.Type{
	openai.Type,
	mythicdot.Type,
	llmtune.Type,
	generic.Type,
	anthropic.Type,
	mistral.Type,
	azureopenai.Type,
	vertex.Type,
	gemini.Type,
	groq.Type,
	together.Type,
	fireworks.Type,
	bedrock.Type,
}

// Lookup returns the provider type of that name.
func Lookup(name string) (providers.Type, bool) {
	for _, t := range types {
		if t.Name == name {
			return t, true
		}
	}
	return providers.Type{}, false
}

// Types returns every provider type, in the order they are listed.
func Types() []providers.Type {
	return append([]providers.Type(nil), types...)
}

// Names returns the name of every provider type, in the order they are
// listed.
func Names() []string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.Name
	}
	return names
}
