"""Network-namespace lab: the Vagrant topologies built from namespaces and veth on one box."""
