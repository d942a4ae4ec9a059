//go:build !lean

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/glassbox-dev/glassbox/engine"
	"github.com/glassbox-dev/glassbox/image"
)

// registryFlags are the flags of commands that talk to registries.
func registryFlags(cmd *cobra.Command, o *image.Registry) {
	cmd.Flags().StringArrayVar(&o.Insecure, "insecure-registry", nil, "reach this registry (host:port) over plain HTTP (localhost ones always are)")
}

func newPullCmd() *cobra.Command {
	var o image.Registry
	cmd := &cobra.Command{
		Use:   "pull NAME[:TAG|@DIGEST]",
		Short: "Fetch an image from a registry into the image store",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := image.Open(stateRoot(cmd))
			if err != nil {
				return err
			}
			o.Progress = progressBar()
			rec, err := s.Pull(context.Background(), args[0], o)
			if err != nil {
				return err
			}
			fmt.Printf("%s: %s (manifest %s)\n", image.Familiar(args[0]), rec.ID, rec.Manifest)
			return nil
		},
	}
	registryFlags(cmd, &o)
	cmd.Flags().StringVar(&o.Platform, "platform", "", "os/arch[/variant] to pick from a multi-platform image (default linux/<this machine>)")
	return cmd
}

func newPushCmd() *cobra.Command {
	var o image.Registry
	cmd := &cobra.Command{
		Use:   "push NAME[:TAG]",
		Short: "Send an image to a registry (tag it with the registry's name first)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := image.Open(stateRoot(cmd))
			if err != nil {
				return err
			}
			_, err = s.Push(context.Background(), args[0], o)
			return err
		},
	}
	registryFlags(cmd, &o)
	return cmd
}

func newLoginCmd() *cobra.Command {
	var o image.Registry
	var user string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [-u USER] [--password-stdin] REGISTRY",
		Short: "Check credentials with a registry and keep them in ~/.docker/config.json",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := bufio.NewReader(os.Stdin)
			if user == "" {
				fmt.Fprint(os.Stderr, "Username: ")
				line, _ := in.ReadString('\n')
				user = strings.TrimSpace(line)
			}
			var password string
			if !passwordStdin && term.IsTerminal(int(os.Stdin.Fd())) {
				fmt.Fprint(os.Stderr, "Password: ")
				b, err := term.ReadPassword(int(os.Stdin.Fd()))
				fmt.Fprintln(os.Stderr)
				if err != nil {
					return err
				}
				password = string(b)
			} else {
				line, _ := in.ReadString('\n')
				password = strings.TrimRight(line, "\r\n")
			}
			if err := image.Login(context.Background(), args[0], user, password, o); err != nil {
				return err
			}
			fmt.Println("Login Succeeded")
			return nil
		},
	}
	registryFlags(cmd, &o)
	cmd.Flags().StringVarP(&user, "username", "u", "", "user name")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

func newImportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE|DIR [NAME[:TAG]]",
		Short: "Add images from a docker save archive, an OCI layout (dir or tar), or a rootfs tarball",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := image.Open(stateRoot(cmd))
			if err != nil {
				return err
			}
			tag := ""
			if len(args) == 2 {
				tag = args[1]
			}
			recs, err := s.Import(args[0], tag)
			for _, r := range recs {
				tags := "(untagged)"
				if len(r.Tags) > 0 {
					tags = image.Familiar(r.Tags[0])
				}
				fmt.Printf("%s %s\n", tags, r.ID)
			}
			return err
		},
	}
}

func newSaveCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save -o FILE IMAGE...",
		Short: "Write images as an OCI image layout tar",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := image.Open(stateRoot(cmd))
			if err != nil {
				return err
			}
			if output == "" {
				if term.IsTerminal(int(os.Stdout.Fd())) {
					return fmt.Errorf("refusing to write a tar to a terminal: use -o FILE or redirect")
				}
				return s.Save(args, os.Stdout)
			}
			f, err := os.Create(output)
			if err != nil {
				return err
			}
			if err := s.Save(args, f); err != nil {
				f.Close()
				os.Remove(output)
				return err
			}
			return f.Close()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of standard output")
	return cmd
}

func newRmiCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rmi IMAGE...",
		Short: "Remove images (and the layers no other image shares)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			for _, ref := range args {
				out, err := eng.RemoveImage(ref, force)
				for _, removal := range out {
					fmt.Println(removal)
				}
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove even if a container uses it")
	return cmd
}

func newTagCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE TARGET",
		Short: "Give an image another name",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			return eng.TagImage(args[0], args[1])
		},
	}
}

func newImageCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Image commands (inspect, prune; the others are top-level, as in Docker)"}
	cmd.AddCommand(newImagePruneCmd())
	cmd.AddCommand(&cobra.Command{
		Use:   "inspect IMAGE",
		Short: "Print an image's record, config (with history) and manifest as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := image.Open(stateRoot(cmd))
			if err != nil {
				return err
			}
			rec, err := s.Find(args[0])
			if err != nil {
				return err
			}
			img, err := s.Image(rec)
			if err != nil {
				return err
			}
			cfg, err := img.ConfigFile()
			if err != nil {
				return err
			}
			m, err := img.Manifest()
			if err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"record": rec, "config": cfg, "manifest": m})
		},
	})
	return cmd
}

// progressBar draws a line per layer on a terminal, as docker pull does:
// layers come side by side, so the block of lines is redrawn in place (at
// most every 100 ms, and at each layer's end), each line cut to the
// terminal's width. An image with more layers than the terminal has rows
// gets one line, of the layer last heard of. Elsewhere it is quiet.
func progressBar() image.Progress {
	fd := int(os.Stderr.Fd())
	if !term.IsTerminal(fd) {
		return nil
	}
	width, rows, err := term.GetSize(fd)
	if err != nil || width < 20 {
		width, rows = 80, 24
	}
	var mu sync.Mutex
	var lines []string
	var last time.Time
	return func(i, n int, digest, what string, sofar, size int64, done bool) {
		mu.Lock()
		defer mu.Unlock()
		drawn := len(lines) > 0
		for len(lines) < n {
			lines = append(lines, fmt.Sprintf("layer %d/%d waiting", len(lines)+1, n))
		}
		const bar = 20
		fill := bar
		if size > 0 && !done {
			fill = int(float64(sofar) / float64(size) * bar)
		}
		fill = min(max(fill, 0), bar)
		line := fmt.Sprintf("layer %d/%d %s %-8s [%s%s] %s / %s", i+1, n, strings.TrimPrefix(digest, "sha256:")[:12], what,
			strings.Repeat("=", fill), strings.Repeat(" ", bar-fill), engine.HumanBytes(uint64(max(sofar, 0))), engine.HumanBytes(uint64(max(size, 0))))
		lines[i] = line[:min(len(line), width-1)]
		if !done && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		if n >= rows {
			end := ""
			if done && what == "unpack" {
				end = "\n"
			}
			os.Stderr.WriteString("\r\x1b[K" + lines[i] + end)
			return
		}
		var b strings.Builder
		if drawn {
			fmt.Fprintf(&b, "\x1b[%dA", len(lines)) // back to the block's first line
		}
		for _, l := range lines {
			b.WriteString("\r\x1b[K" + l + "\n")
		}
		os.Stderr.WriteString(b.String())
	}
}
