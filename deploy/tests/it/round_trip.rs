//! The whole contracts → bindings → chain pipeline, on a real anvil: deploy
//! through the generated bindings, send a transaction, read the state and the
//! event back, and decode a custom-error revert.

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::{Provider, ProviderBuilder};
use vtrain_deploy::{Devnet, DevnetConfig, MarketConfig, deploy_contracts};
use vtrain_dispute::Error as DisputeError;
use vtrain_dispute::bindings::{
    ArtifactRegistry, AttentionPrograms, DensePrograms, GraphSemantics, ImagePrograms, NormPrograms,
};

fn devnet() -> Devnet {
    Devnet::spawn(&DevnetConfig::default()).expect("anvil must start (run scripts/setup.sh)")
}

#[tokio::test]
async fn deploy_publish_and_read_back() {
    let devnet = devnet();
    let signer = devnet.signer(0).unwrap();
    let publisher = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(devnet.endpoint_url());

    let deployment = deploy_contracts(&provider, publisher, &MarketConfig::default())
        .await
        .unwrap();
    assert_eq!(deployment.chain_id, devnet.chain_id());
    let check = deployment.check(&provider).await.unwrap();
    // ArtifactRegistry, Fp32Alu, DensePrograms, ImagePrograms, NormPrograms,
    // AttentionPrograms, GraphSpecRules, GraphSemantics, JobMarket,
    // DisputeGame: each holds this build's runtime code.
    assert_eq!(check.contracts.len(), 10);

    let registry =
        ArtifactRegistry::new(deployment.address("ArtifactRegistry").unwrap(), &provider);
    let root: B256 = keccak256(b"digits.csv.gz");
    let receipt = registry
        .publish(root, 57_000, "file:///store/digits".into())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "publish must succeed");

    // The event, from the receipt...
    let event = receipt
        .decoded_log::<ArtifactRegistry::ArtifactPublished>()
        .expect("the receipt carries ArtifactPublished");
    assert_eq!(event.root, root);
    assert_eq!(event.publisher, publisher);
    assert_eq!(event.size, 57_000);
    assert_eq!(event.uri, "file:///store/digits");

    // ...and from a log query, as agents rebuild their state.
    let logs = registry
        .ArtifactPublished_filter()
        .from_block(0)
        .query()
        .await
        .unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].0.root, root);
    assert_eq!(logs[0].1.block_number, receipt.block_number);

    // The state.
    let stored = registry.artifacts(root, publisher).call().await.unwrap();
    assert_eq!(stored.publisher, publisher);
    assert_eq!(stored.size, 57_000);
    let block = provider
        .get_block_by_number(receipt.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.publishedAt, block.header.timestamp);
    assert!(registry.isPublished(root, publisher).call().await.unwrap());
    assert_eq!(
        registry.artifactCount().call().await.unwrap(),
        U256::from(1)
    );

    // A revert comes back as the contract's custom error, decoded.
    let error = registry
        .publish(root, 1, "file:///elsewhere".into())
        .send()
        .await
        .expect_err("publishing a root twice must revert");
    let decoded = error
        .as_decoded_interface_error::<ArtifactRegistry::ArtifactRegistryErrors>()
        .expect("the revert decodes to an ArtifactRegistry error");
    match decoded {
        ArtifactRegistry::ArtifactRegistryErrors::AlreadyPublished(already) => {
            assert_eq!(already.root, root);
            assert_eq!(already.publisher, publisher);
        }
        other => panic!("unexpected revert {other:?}"),
    }
    assert_eq!(
        registry.artifactCount().call().await.unwrap(),
        U256::from(1)
    );
}

#[tokio::test]
async fn manifest_check_rejects_wrong_code_and_wrong_chain() {
    let devnet = devnet();
    let signer = devnet.signer(0).unwrap();
    let deployer = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(devnet.endpoint_url());
    let deployment = deploy_contracts(&provider, deployer, &MarketConfig::default())
        .await
        .unwrap();

    let mut wrong_address = deployment.clone();
    wrong_address
        .contracts
        .insert("ArtifactRegistry".into(), Address::repeat_byte(0x42));
    let error = wrong_address.check(&provider).await.unwrap_err();
    assert!(
        matches!(error, DisputeError::CodeMismatch { found: 0, .. }),
        "{error}"
    );

    // The same code wired to other contracts passes the (masked) code
    // comparison and fails on the immutables: dense, image, layer-norm or
    // attention programs the semantics does not use, and a semantics the game
    // does not use.
    let other_dense = DensePrograms::deploy(&provider).await.unwrap();
    let other_images = ImagePrograms::deploy(&provider).await.unwrap();
    let other_norms = NormPrograms::deploy(&provider).await.unwrap();
    let other_attention = AttentionPrograms::deploy(&provider).await.unwrap();
    let rewired = GraphSemantics::deploy(
        &provider,
        deployment.address("DensePrograms").unwrap(),
        *other_images.address(),
        deployment.address("NormPrograms").unwrap(),
        deployment.address("AttentionPrograms").unwrap(),
        deployment.address("GraphSpecRules").unwrap(),
    )
    .await
    .unwrap();
    for (name, address, contract, field) in [
        (
            "DensePrograms",
            *other_dense.address(),
            "GraphSemantics",
            "dense",
        ),
        (
            "ImagePrograms",
            *other_images.address(),
            "GraphSemantics",
            "images",
        ),
        (
            "NormPrograms",
            *other_norms.address(),
            "GraphSemantics",
            "norms",
        ),
        (
            "AttentionPrograms",
            *other_attention.address(),
            "GraphSemantics",
            "attention",
        ),
        (
            "GraphSemantics",
            *rewired.address(),
            "DisputeGame",
            "semantics",
        ),
    ] {
        let mut rewired_manifest = deployment.clone();
        rewired_manifest.contracts.insert(name.into(), address);
        let error = rewired_manifest.check(&provider).await.unwrap_err();
        assert!(
            matches!(&error, DisputeError::WrongLink { contract: c, field: f, .. }
                if c == contract && f == field),
            "{error}"
        );
    }

    let mut wrong_chain = deployment.clone();
    wrong_chain.chain_id = 1;
    let error = wrong_chain.check(&provider).await.unwrap_err();
    assert!(
        matches!(error, DisputeError::WrongChain { manifest: 1, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn unreachable_rpc_is_a_retryable_error() {
    let provider = ProviderBuilder::new().connect_http("http://127.0.0.1:9".parse().unwrap());
    let deployment = vtrain_dispute::Deployment {
        chain_id: 31337,
        deployer: Address::ZERO,
        block_number: 0,
        contracts: Default::default(),
    };
    let error = deployment.check(&provider).await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
}
