package config_test

import (
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/tracker/config"
)

// azureEntra is an azure-openai provider entry with Microsoft Entra ID keys
// and no api_key, followed by extra.
func azureEntra(extra string) string {
	return "[[providers]]\nname = \"az\"\ntype = \"azure-openai\"\nbase_url = \"https://r.openai.azure.com\"\n" +
		"tenant_id = \"0f1e2d3c-tenant\"\nclient_id = \"a1b2c3d4-client\"\nclient_secret = \"c2hvcnQ-entra-secret\"\n" + extra
}

// An azure-openai provider with the Entra ID keys is polled from its entry
// alone, with no api_key: the keys (the secret revealed) and token_url reach
// its settings, and the secret is not shown when the entry is.
func TestAzureOpenAIEntraIsPolledWithoutAPIKey(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse(azureEntra("token_url = \"https://login.microsoftonline.us/0f1e2d3c-tenant/oauth2/v2.0/token\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cfg.Provider("az")
	s := p.Settings()
	if !p.Polls() || p.Poll == nil || s.APIKey != "" || s.TenantID != "0f1e2d3c-tenant" || s.ClientID != "a1b2c3d4-client" ||
		s.ClientSecret != "c2hvcnQ-entra-secret" || s.TokenURL != "https://login.microsoftonline.us/0f1e2d3c-tenant/oauth2/v2.0/token" {
		t.Errorf("polls %v, poll %+v, settings %+v", p.Polls(), p.Poll, s)
	}
	if shown := p.ClientSecret.String(); strings.Contains(shown, "c2hvcnQ") {
		t.Errorf("client_secret shown as %q", shown)
	}
}

// The Entra ID keys are all three or none, never with api_key, only for
// azure-openai; token_url only with them. Each error names the key at fault
// and never shows the secret.
func TestAzureOpenAIEntraKeyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, text, want string }{
		{"with api_key", azureEntra("api_key = \"k\"\n"), "providers[0].api_key: api_key and tenant_id/client_id/client_secret (Microsoft Entra ID) are mutually exclusive"},
		{"without client_secret", "[[providers]]\nname = \"az\"\ntype = \"azure-openai\"\nbase_url = \"https://r.openai.azure.com\"\ntenant_id = \"t\"\nclient_id = \"c\"\n",
			"providers[0].client_secret: required with the other Microsoft Entra ID keys"},
		{"without tenant_id", "[[providers]]\nname = \"az\"\ntype = \"azure-openai\"\nbase_url = \"https://r.openai.azure.com\"\nclient_id = \"c\"\nclient_secret = \"c2hvcnQ\"\n",
			"providers[0].tenant_id: required with the other Microsoft Entra ID keys"},
		{"without client_id", "[[providers]]\nname = \"az\"\ntype = \"azure-openai\"\nbase_url = \"https://r.openai.azure.com\"\ntenant_id = \"t\"\nclient_secret = \"c2hvcnQ\"\n",
			"providers[0].client_id: required with the other Microsoft Entra ID keys"},
		{"without base_url", "[[providers]]\nname = \"az\"\ntype = \"azure-openai\"\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"c2hvcnQ\"\n",
			"providers[0].base_url: required to poll azure-openai"},
		{"bad token_url", azureEntra("token_url = \"login.microsoftonline.us\"\n"), "providers[0].token_url: \"login.microsoftonline.us\" is not an http(s) URL"},
		{"token_url alone", "[[providers]]\nname = \"az\"\ntype = \"azure-openai\"\nbase_url = \"https://r.openai.azure.com\"\napi_key = \"k\"\ntoken_url = \"https://login.microsoftonline.us/t/oauth2/v2.0/token\"\n",
			"providers[0].token_url: not used without tenant_id, client_id and client_secret"},
		{"another type", "[[providers]]\nname = \"m\"\ntype = \"mistral\"\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"c2hvcnQ\"\n",
			"providers[0].client_id: not used: mistral does not authenticate with Microsoft Entra ID"},
	}
	for _, tt := range tests {
		_, err := config.Parse(tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "c2hvcnQ") {
			t.Errorf("%s: the error shows a secret: %v", tt.name, err)
		}
	}
}
