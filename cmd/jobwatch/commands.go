package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/daemon"
)

func loadConfig(path string) (config.Config, error) {
	if path == "" {
		return config.Config{}, fmt.Errorf("--config is required: %w", errMissingFlag)
	}
	return config.Load(path)
}

var errMissingFlag = errors.New("missing flag")

// configOnly parses the flags of a command whose only flag is --config and
// loads that file.
func configOnly(name string, args []string, stderr io.Writer) (config.Config, error) {
	fs := newFlagSet(name, stderr)
	path := fs.String("config", "", "config file (TOML)")
	if _, err := parseFlags(fs, args); err != nil {
		return config.Config{}, err
	}
	return loadConfig(*path)
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := configOnly("serve", args, stderr)
	if err != nil {
		return err
	}
	log := daemon.NewLogger(cfg.Log, stderr)
	d, err := daemon.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := configOnly("migrate", args, stderr)
	if err != nil {
		return err
	}
	s, err := daemon.OpenStore(ctx, cfg.Storage)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "migrations applied: %s schema is up to date\n", cfg.Storage.Driver)
	return nil
}

func runCheckConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := configOnly("check-config", args, stderr)
	if err != nil {
		return err
	}
	// The DSN as far as it can be checked without connecting.
	if err := storage.Check(cfg.Storage.StorageConfig()); err != nil {
		return fmt.Errorf("storage.dsn: %w", err)
	}
	fmt.Fprintln(stdout, cfg.Summary())
	return nil
}

func runTrack(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("track", stderr)
	provider := fs.String("provider", "", "provider name (required)")
	kind := fs.String("kind", "", "job kind: batch, fine_tuning, response, eval_run, ... (required)")
	server := fs.String("server", "", "URL of a running daemon")
	token := fs.String("token", os.Getenv("JOBWATCH_API_TOKEN"), "the daemon's API token (default $JOBWATCH_API_TOKEN)")
	path := fs.String("config", "", "config file: register in the daemon's database directly")
	metadata := fs.String("metadata", "", "JSON to keep with the job")
	parent := fs.String("parent-id", "", "id of the object the provider files the job under: an OpenAI eval run's eval id")
	model := fs.String("model", "", "model the job runs on, for pricing, when the provider's job object does not name it")
	labels := labelFlag{}
	fs.Var(labels, "label", "label key=value (repeatable)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (*server == "") == (*path == "") {
		return printUsage("track", stderr)
	}
	req := tracker.TrackRequest{Provider: *provider, Kind: tracker.Kind(*kind), ExternalID: pos[0], ParentID: *parent, Model: *model, Labels: labels}
	if *metadata != "" {
		req.Metadata = json.RawMessage(*metadata)
	}
	if err := checkTrack(req); err != nil {
		return err
	}
	var api tracker.API
	if *server != "" {
		base, err := serverURL(*server)
		if err != nil {
			return err
		}
		api = tracker.NewClient(base, tracker.WithToken(*token))
	} else {
		cfg, err := loadConfig(*path)
		if err != nil {
			return err
		}
		s, err := daemon.OpenStore(ctx, cfg.Storage)
		if err != nil {
			return err
		}
		defer s.Close()
		api = tracker.New(s, daemon.TrackerOptions(cfg))
	}
	job, created, err := api.Track(ctx, req)
	if err != nil {
		return err
	}
	verb := "already tracked"
	if created {
		verb = "tracked"
	}
	fmt.Fprintf(stdout, "%s %s %s job %s (status %s)\n", verb, job.Provider, job.Kind, job.ExternalID, job.Status)
	return nil
}

func runPoll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("poll", stderr)
	provider := fs.String("provider", "", "provider name (required)")
	server := fs.String("server", "", "URL of a running daemon")
	token := fs.String("token", os.Getenv("JOBWATCH_API_TOKEN"), "the daemon's API token (default $JOBWATCH_API_TOKEN)")
	path := fs.String("config", "", "config file: poll from this process, over the daemon's database")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (*server == "") == (*path == "") {
		return printUsage("poll", stderr)
	}
	if *provider == "" {
		return badUsage("--provider is required")
	}
	if err := errors.Join(tracker.ValidateProvider(*provider), tracker.ValidateExternalID(pos[0])); err != nil {
		return flagError(err)
	}
	var job tracker.Job
	if *server != "" {
		// base's own err would shadow the poll's.
		base, uerr := serverURL(*server)
		if uerr != nil {
			return uerr
		}
		job, err = tracker.NewClient(base, tracker.WithToken(*token)).Poll(ctx, *provider, pos[0])
	} else {
		job, err = pollInProcess(ctx, *path, *provider, pos[0], stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s job %s: %s (provider status %q)\n", job.Provider, job.Kind, job.ExternalID, job.Status, job.ProviderStatus)
	return nil
}

// checkTrack checks a job's provider, kind, id, labels and metadata as the
// daemon would, before any request, naming the flag that is wrong.
func checkTrack(req tracker.TrackRequest) error {
	if req.Provider == "" {
		return badUsage("--provider is required")
	}
	if req.Kind == "" {
		return badUsage("--kind is required")
	}
	return flagError(req.Validate())
}

// flagError turns a tracker.ValidationError into a usage error naming the
// flag or argument of its field.
func flagError(err error) error {
	var verr *tracker.ValidationError
	if !errors.As(err, &verr) {
		return err
	}
	arg := map[string]string{"id": "ID", "labels": "--label", "parent_id": "--parent-id", "model": "--model"}[verr.Field]
	return badUsage("%s: %s", cmp.Or(arg, "--"+verr.Field), verr.Msg)
}

func pollInProcess(ctx context.Context, path, provider, id string, stderr io.Writer) (tracker.Job, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return tracker.Job{}, err
	}
	s, err := daemon.OpenStore(ctx, cfg.Storage)
	if err != nil {
		return tracker.Job{}, err
	}
	defer s.Close()
	log := daemon.NewLogger(cfg.Log, stderr)
	sw, err := daemon.NewSweeper(cfg, tracker.New(s, daemon.TrackerOptions(cfg)), log, nil)
	if err != nil {
		return tracker.Job{}, err
	}
	return sw.PollJob(ctx, provider, id)
}
