# Model stage: exact parameter counts and forward FLOPs of every model in the run.


rule model_info:
    output:
        info=f"{RESULTS}/models.json",
    log:
        f"{LOGS}/model_info.log",
    benchmark:
        bench("model_info")
    conda:
        "../../envs/train.yaml"
    params:
        models=",".join(MODELS),
    shell:
        "resrepro models --models {params.models} --out {output.info:q} > {log:q} 2>&1"
