package natstest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a NATS cluster with JetStream of servers in this process, on
// loopback ports that stay the same across Stop and Restart, each with its
// own store directory. Built from nats-server's Go module: the version
// Svar embeds.
type Cluster struct {
	t       testing.TB
	opts    []*server.Options
	servers []*server.Server
}

// StartCluster starts n clustered servers and waits until JetStream has a
// meta leader. They are shut down on t.Cleanup.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, servers: make([]*server.Server, n)}
	clientPorts, routePorts := freePorts(t, n), freePorts(t, n)
	var routes []string
	for _, p := range routePorts {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	for i := range n {
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       clientPorts[i],
			JetStream:  true,
			StoreDir:   t.TempDir(),
			MaxPayload: 8 << 20,
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "svar-test", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		})
	}
	for i := range n {
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.servers {
			c.Stop(i)
		}
	})
	c.WaitJetStream()
	return c
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func (c *Cluster) start(i int) {
	c.t.Helper()
	o := *c.opts[i]
	s, err := server.NewServer(&o)
	if err != nil {
		c.t.Fatalf("natstest: cluster server %d: %v", i, err)
	}
	s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		c.t.Fatalf("natstest: cluster server %d did not start", i)
	}
	c.servers[i] = s
}

// URLs is the cluster's client URLs, comma-separated (SVAR_NATS_URL).
func (c *Cluster) URLs() string {
	var us []string
	for _, o := range c.opts {
		us = append(us, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	return strings.Join(us, ",")
}

// Stop shuts server i down (as a crash would look to its clients: the
// connections drop) and waits until it has stopped.
func (c *Cluster) Stop(i int) {
	if s := c.servers[i]; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		c.servers[i] = nil
	}
}

// Restart starts server i again on its ports and store, and waits until
// JetStream answers through it.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.start(i)
	c.WaitJetStream()
}

// WaitJetStream waits until every running server answers JetStream
// requests (a meta leader is elected and the server has caught up).
func (c *Cluster) WaitJetStream() {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for i, s := range c.servers {
		if s == nil {
			continue
		}
		for {
			err := jsAnswers(s.ClientURL())
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("natstest: cluster server %d: JetStream does not answer: %v", i, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func jsAnswers(url string) error {
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}
