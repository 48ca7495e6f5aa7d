//! The deployment manifest, `deployments/<chainId>.json`: which address holds
//! which vtrain contract on one chain. `vtrain-deploy` writes it; every agent
//! reads it and checks it against the chain before trusting it.

use crate::bindings::{DisputeGame, GraphSemantics, deployed_bytecode, immutable_ranges};
use crate::error::{Error, Result};
use alloy::primitives::Address;
use alloy::providers::Provider;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where vtrain's contracts live on one chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deployment {
    /// The chain the contracts were deployed to.
    pub chain_id: u64,
    /// The account that sent the deployment transactions.
    pub deployer: Address,
    /// The block of the last deployment transaction; agents scan events from here.
    pub block_number: u64,
    /// Contract name (as in `contracts/src`) to address.
    pub contracts: BTreeMap<String, Address>,
}

/// What [`Deployment::check`] found on chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeploymentCheck {
    /// The chain id the RPC endpoint reports.
    pub chain_id: u64,
    /// The RPC endpoint's latest block.
    pub latest_block: u64,
    /// Each contract with its address and the size of its verified runtime code.
    pub contracts: Vec<(String, Address, usize)>,
}

impl Deployment {
    /// The manifest path for `chain_id` inside `dir`.
    pub fn path_in(dir: &Path, chain_id: u64) -> PathBuf {
        dir.join(format!("{chain_id}.json"))
    }

    /// Reads and validates a manifest: it must parse and name only known contracts.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ManifestIo {
            path: path.to_owned(),
            source,
        })?;
        let deployment: Self =
            serde_json::from_str(&text).map_err(|source| Error::ManifestFormat {
                path: path.to_owned(),
                source,
            })?;
        if let Some(name) = deployment
            .contracts
            .keys()
            .find(|name| deployed_bytecode(name).is_none())
        {
            return Err(Error::UnknownContract { name: name.clone() });
        }
        Ok(deployment)
    }

    /// Writes the manifest to `dir/<chainId>.json` atomically (a temporary file,
    /// then a rename), so a reader never sees half a manifest.
    pub fn write_atomic(&self, dir: &Path) -> Result<PathBuf> {
        let path = Self::path_in(dir, self.chain_id);
        let io_error = |source| Error::ManifestIo {
            path: path.clone(),
            source,
        };
        let mut json =
            serde_json::to_string_pretty(self).map_err(|source| Error::ManifestFormat {
                path: path.clone(),
                source,
            })?;
        json.push('\n');
        use vtrain_proof_of_learning::durable::{Access, write_atomic};
        write_atomic(&path, json.as_bytes(), Access::Public).map_err(io_error)?;
        Ok(path)
    }

    /// The address of contract `name`.
    pub fn address(&self, name: &str) -> Result<Address> {
        self.contracts
            .get(name)
            .copied()
            .ok_or_else(|| Error::MissingContract {
                chain_id: self.chain_id,
                name: name.to_owned(),
            })
    }

    /// Checks the manifest against the chain behind `provider`: the chain id
    /// matches, every address holds exactly the runtime code of this build's
    /// contract of that name (its immutables masked), and those immutables
    /// are the manifest's own contracts (the game's ALU and semantics, the
    /// semantics' image and layer-norm programs and spec rules).
    pub async fn check<P: Provider>(&self, provider: &P) -> Result<DeploymentCheck> {
        let chain_id = provider.get_chain_id().await?;
        if chain_id != self.chain_id {
            return Err(Error::WrongChain {
                manifest: self.chain_id,
                rpc: chain_id,
            });
        }
        let latest_block = provider.get_block_number().await?;
        let mut contracts = Vec::with_capacity(self.contracts.len());
        for (name, &address) in &self.contracts {
            let expected = deployed_bytecode(name)
                .ok_or_else(|| Error::UnknownContract { name: name.clone() })?;
            let found = provider.get_code_at(address).await?;
            if masked(&found, immutable_ranges(name)) != expected.as_ref() {
                return Err(Error::CodeMismatch {
                    name: name.clone(),
                    address,
                    expected: expected.len(),
                    found: found.len(),
                });
            }
            contracts.push((name.clone(), address, found.len()));
        }
        self.check_links(provider).await?;
        Ok(DeploymentCheck {
            chain_id,
            latest_block,
            contracts,
        })
    }

    /// Every address a checked contract holds as an immutable is the manifest's
    /// contract of that role.
    async fn check_links<P: Provider>(&self, provider: &P) -> Result<()> {
        // (contract, getter, the manifest's contract it must name, the address on chain)
        let mut links = Vec::new();
        if let Ok(address) = self.address("DisputeGame") {
            let game = DisputeGame::new(address, provider);
            let (alu, semantics) = (game.alu().call().await, game.semantics().call().await);
            links.push(("DisputeGame", "alu", "Fp32Alu", alu));
            links.push(("DisputeGame", "semantics", "GraphSemantics", semantics));
        }
        if let Ok(address) = self.address("GraphSemantics") {
            let semantics = GraphSemantics::new(address, provider);
            let (dense, images, norms, attention, rules) = (
                semantics.dense().call().await,
                semantics.images().call().await,
                semantics.norms().call().await,
                semantics.attention().call().await,
                semantics.rules().call().await,
            );
            links.push(("GraphSemantics", "dense", "DensePrograms", dense));
            links.push(("GraphSemantics", "images", "ImagePrograms", images));
            links.push(("GraphSemantics", "norms", "NormPrograms", norms));
            links.push((
                "GraphSemantics",
                "attention",
                "AttentionPrograms",
                attention,
            ));
            links.push(("GraphSemantics", "rules", "GraphSpecRules", rules));
        }
        for (contract, field, role, found) in links {
            self.expect_link(contract, field, role, found.map_err(Error::from_contract)?)?;
        }
        Ok(())
    }

    fn expect_link(&self, contract: &str, field: &str, role: &str, found: Address) -> Result<()> {
        let expected = self.address(role)?;
        if found != expected {
            return Err(Error::WrongLink {
                contract: contract.to_owned(),
                field: field.to_owned(),
                expected,
                found,
            });
        }
        Ok(())
    }
}

/// `code` with the byte ranges in `ranges` zeroed, as in the build's artifact.
fn masked(code: &[u8], ranges: &[(usize, usize)]) -> Vec<u8> {
    let mut code = code.to_vec();
    for &(start, length) in ranges {
        if let Some(bytes) = code.get_mut(start..start + length) {
            bytes.fill(0);
        }
    }
    code
}

impl fmt::Display for DeploymentCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "chain {} at block {}: {} contract(s) verified",
            self.chain_id,
            self.latest_block,
            self.contracts.len()
        )?;
        for (name, address, code_len) in &self.contracts {
            writeln!(f, "  {name:<24} {address}  ({code_len} bytes of code)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Deployment {
        Deployment {
            chain_id: 31337,
            deployer: Address::repeat_byte(0x11),
            block_number: 3,
            contracts: BTreeMap::from([(
                "ArtifactRegistry".to_owned(),
                Address::repeat_byte(0x22),
            )]),
        }
    }

    #[test]
    fn manifest_round_trips_through_an_atomic_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample().write_atomic(dir.path()).unwrap();
        assert_eq!(path, dir.path().join("31337.json"));
        assert_eq!(Deployment::load(&path).unwrap(), sample());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(
            leftovers.len(),
            1,
            "the temporary file must be renamed away"
        );
    }

    #[test]
    fn unknown_contract_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let mut deployment = sample();
        deployment
            .contracts
            .insert("NotAVtrainContract".into(), Address::ZERO);
        let path = deployment.write_atomic(dir.path()).unwrap();
        let error = Deployment::load(&path).unwrap_err();
        assert!(
            matches!(error, Error::UnknownContract { ref name } if name == "NotAVtrainContract"),
            "{error}"
        );
    }

    #[test]
    fn malformed_and_missing_manifests_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1.json");
        std::fs::write(&path, r#"{"chainId": 1, "extra": true}"#).unwrap();
        let error = Deployment::load(&path).unwrap_err();
        assert!(matches!(error, Error::ManifestFormat { .. }), "{error}");
        assert!(error.to_string().contains("1.json"));

        let missing = Deployment::load(&dir.path().join("2.json")).unwrap_err();
        assert!(matches!(missing, Error::ManifestIo { .. }), "{missing}");
        assert!(!missing.is_retryable());
    }

    #[test]
    fn missing_contract_is_a_clear_error() {
        let error = sample().address("JobMarket").unwrap_err();
        assert_eq!(
            error.to_string(),
            "deployment for chain 31337 has no JobMarket contract"
        );
    }
}
