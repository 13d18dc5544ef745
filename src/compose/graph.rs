//! The service dependency graph (petgraph): edges from `depends_on`, `links`,
//! `network_mode: service:x` and `volumes_from`. Start order is topological (dependencies first),
//! stop order the reverse; a cycle is an error that prints it.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::compose::error::{ComposeError, Result};
use crate::compose::model::Project;

/// Why a service depends on another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EdgeKind {
    DependsOn,
    Link,
    NetworkMode,
    VolumesFrom,
}

impl EdgeKind {
    fn from_str(s: &str) -> EdgeKind {
        match s {
            "links" => EdgeKind::Link,
            "network_mode" => EdgeKind::NetworkMode,
            "volumes_from" => EdgeKind::VolumesFrom,
            _ => EdgeKind::DependsOn,
        }
    }
}

/// The dependency graph of a project's enabled services. An edge goes from a dependency to
/// the service that needs it.
#[derive(Clone, Debug)]
pub struct ServiceGraph {
    pub graph: DiGraph<String, EdgeKind>,
    index: BTreeMap<String, NodeIndex>,
}

impl ServiceGraph {
    /// Build the graph; fails on a dependency that is not an enabled service, or on a cycle.
    pub fn build(project: &Project) -> Result<ServiceGraph> {
        let mut graph = DiGraph::new();
        let mut index = BTreeMap::new();
        for name in project.services.keys() {
            index.insert(name.clone(), graph.add_node(name.clone()));
        }
        for (name, svc) in &project.services {
            for (dep, via) in svc.dependencies() {
                let Some(&from) = index.get(&dep) else {
                    if let Some(d) = project.disabled_services.get(&dep) {
                        return Err(ComposeError::DisabledDependency {
                            at: Default::default(),
                            service: name.clone(),
                            dependency: dep,
                            profiles: d.profiles.clone(),
                        });
                    }
                    return Err(ComposeError::UndefinedDependency {
                        at: Default::default(),
                        service: name.clone(),
                        dependency: dep,
                        via: via.to_string(),
                    });
                };
                let to = index[name];
                if graph.find_edge(from, to).is_none() {
                    graph.add_edge(from, to, EdgeKind::from_str(via));
                }
            }
        }
        let g = ServiceGraph { graph, index };
        if let Some(cycle) = g.find_cycle() {
            return Err(ComposeError::Cycle {
                cycle: cycle.join(" -> "),
            });
        }
        Ok(g)
    }

    /// A cycle as `a, b, a` (service `a` depends on `b` which depends on `a`), if any.
    pub fn find_cycle(&self) -> Option<Vec<String>> {
        // DFS over "depends on" edges, in name order, so the reported cycle is stable.
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let mut marks: BTreeMap<&str, Mark> =
            self.index.keys().map(|k| (k.as_str(), Mark::New)).collect();
        fn visit<'a>(
            g: &'a ServiceGraph,
            n: &'a str,
            marks: &mut BTreeMap<&'a str, Mark>,
            stack: &mut Vec<&'a str>,
        ) -> Option<Vec<String>> {
            marks.insert(n, Mark::Active);
            stack.push(n);
            for d in g.dependencies(n) {
                let d = g.graph[g.index[&d]].as_str();
                match marks[d] {
                    Mark::Active => {
                        let start = stack.iter().position(|s| *s == d).unwrap_or(0);
                        let mut cyc: Vec<String> =
                            stack[start..].iter().map(|s| s.to_string()).collect();
                        cyc.push(d.to_string());
                        return Some(cyc);
                    }
                    Mark::New => {
                        if let Some(c) = visit(g, d, marks, stack) {
                            return Some(c);
                        }
                    }
                    Mark::Done => {}
                }
            }
            stack.pop();
            marks.insert(n, Mark::Done);
            None
        }
        let names: Vec<&str> = self.index.keys().map(String::as_str).collect();
        for n in names {
            if marks[n] == Mark::New {
                let mut stack = Vec::new();
                if let Some(c) = visit(self, n, &mut marks, &mut stack) {
                    return Some(c);
                }
            }
        }
        None
    }

    /// Whether the graph knows the service.
    pub fn contains(&self, service: &str) -> bool {
        self.index.contains_key(service)
    }

    /// The direct dependencies of a service, sorted.
    pub fn dependencies(&self, service: &str) -> Vec<String> {
        self.neighbors(service, Direction::Incoming)
    }

    /// The services that directly depend on `service`, sorted.
    pub fn dependants(&self, service: &str) -> Vec<String> {
        self.neighbors(service, Direction::Outgoing)
    }

    fn neighbors(&self, service: &str, dir: Direction) -> Vec<String> {
        let Some(&i) = self.index.get(service) else {
            return vec![];
        };
        let mut v: Vec<String> = self
            .graph
            .neighbors_directed(i, dir)
            .map(|n| self.graph[n].clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// All services in start order: every service after its dependencies, ties by name.
    pub fn start_order(&self) -> Vec<String> {
        let mut indeg: BTreeMap<String, usize> = self
            .index
            .keys()
            .map(|k| (k.clone(), self.dependencies(k).len()))
            .collect();
        let mut ready: BTreeSet<String> = indeg
            .iter()
            .filter(|(_, d)| **d == 0)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::new();
        while let Some(n) = ready.pop_first() {
            for d in self.dependants(&n) {
                let e = indeg.get_mut(&d).unwrap();
                *e -= 1;
                if *e == 0 {
                    ready.insert(d);
                }
            }
            out.push(n);
        }
        out
    }

    /// All services in stop order (dependants first).
    pub fn stop_order(&self) -> Vec<String> {
        let mut v = self.start_order();
        v.reverse();
        v
    }

    /// The services to act on for a selection (`wharf up web`): the named ones plus, unless
    /// `no_deps`, everything they depend on transitively. An empty selection is every service.
    pub fn select(&self, services: &[String], no_deps: bool) -> Result<BTreeSet<String>> {
        if services.is_empty() {
            return Ok(self.index.keys().cloned().collect());
        }
        let mut out = BTreeSet::new();
        let mut todo: Vec<String> = Vec::new();
        for s in services {
            if !self.index.contains_key(s) {
                return Err(ComposeError::NoSuchService { service: s.clone() });
            }
            todo.push(s.clone());
        }
        while let Some(s) = todo.pop() {
            if !out.insert(s.clone()) {
                continue;
            }
            if !no_deps {
                todo.extend(self.dependencies(&s));
            }
        }
        Ok(out)
    }

    /// `start_order` restricted to a selection.
    pub fn start_order_of(&self, selection: &BTreeSet<String>) -> Vec<String> {
        self.start_order()
            .into_iter()
            .filter(|s| selection.contains(s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{DependsOn, NetworkMode, Service};

    fn project(edges: &[(&str, &[&str])]) -> Project {
        let mut p = Project::default();
        for (name, deps) in edges {
            let mut s = Service::default();
            for d in *deps {
                s.depends_on.insert(d.to_string(), DependsOn::default());
            }
            p.services.insert(name.to_string(), s);
        }
        p
    }

    #[test]
    fn order_and_selection() {
        let mut p = project(&[
            ("web", &["api"]),
            ("api", &["db", "cache"]),
            ("db", &[]),
            ("cache", &[]),
            ("tool", &[]),
        ]);
        p.services.get_mut("tool").unwrap().network_mode = Some(NetworkMode::Service("web".into()));
        let g = ServiceGraph::build(&p).unwrap();
        assert_eq!(g.start_order(), vec!["cache", "db", "api", "web", "tool"]);
        assert_eq!(g.stop_order(), vec!["tool", "web", "api", "db", "cache"]);
        let sel = g.select(&["api".into()], false).unwrap();
        assert_eq!(
            sel.into_iter().collect::<Vec<_>>(),
            vec!["api", "cache", "db"]
        );
        let sel = g.select(&["api".into()], true).unwrap();
        assert_eq!(sel.into_iter().collect::<Vec<_>>(), vec!["api"]);
        assert!(matches!(
            g.select(&["nope".into()], false),
            Err(ComposeError::NoSuchService { .. })
        ));
        assert_eq!(g.dependants("web"), vec!["tool"]);
    }

    #[test]
    fn cycle_is_printed() {
        let p = project(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        let e = ServiceGraph::build(&p).unwrap_err().to_string();
        assert_eq!(e, "dependency cycle detected: a -> b -> c -> a");
        let p = project(&[("a", &["a"])]);
        assert_eq!(
            ServiceGraph::build(&p).unwrap_err().to_string(),
            "dependency cycle detected: a -> a"
        );
    }

    #[test]
    fn undefined_and_disabled() {
        let mut p = project(&[("a", &["b"])]);
        let e = ServiceGraph::build(&p).unwrap_err().to_string();
        assert!(
            e.contains("\"a\" depends on undefined service \"b\""),
            "{e}"
        );
        p.disabled_services.insert(
            "b".into(),
            Service {
                profiles: vec!["debug".into()],
                ..Default::default()
            },
        );
        let e = ServiceGraph::build(&p).unwrap_err().to_string();
        assert!(
            e.contains("disabled by the active profiles") && e.contains("debug"),
            "{e}"
        );
    }
}
