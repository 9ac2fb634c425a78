package bedrock

import (
	"context"
	"fmt"
	"regexp"

	"github.com/jobwatch/jobwatch/providers"
)

// region is an AWS region as it goes in a host name ("us-east-1",
// "eu-central-1", "us-gov-west-1").
var region = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)+$`)

// Type describes AWS Bedrock to providers/registry: no webhooks, model
// invocation jobs of one region polled with SigV4-signed requests and
// credentials from the AWS SDK's standard chain, at the region's endpoint
// unless base_url is set (a VPC endpoint, a proxy).
var Type = providers.Type{
	Name:           "bedrock",
	OwnCredentials: true,
	Validate: func(s providers.Settings, bad func(table string, err error)) {
		if !region.MatchString(s.Region) {
			bad("", fmt.Errorf("region: %q is not an AWS region such as us-east-1 (required)", s.Region))
		}
	},
	NewPoller: func(s providers.Settings, client providers.PollClient) (providers.Poller, error) {
		creds, err := DefaultCredentials(context.Background())
		if err != nil {
			return nil, err
		}
		return NewPoller(s.Name, s.BaseURL, s.Region, creds, client), nil
	},
}
